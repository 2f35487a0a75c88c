"""Import raw files into a project: parse, normalise, deduplicate, mask, stage in batches, publish as a whole."""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa

from ftstudio.config import IngestLimits
from ftstudio.ingest import iter_records
from ftstudio.ingest.emails import split_forwarded
from ftstudio.ingest.files import format_bytes
from ftstudio.ingest.preferences import PREFERENCE_FIELDS, PREFERENCE_KIND
from ftstudio.ingest.records import ColumnMapping, FileError, RawRecord
from ftstudio.pii import check_masker_names, mask_text, mask_value
from ftstudio.store import ITEM_ARROW_SCHEMA, Project, Store, StoreError
from ftstudio.wording import quoted

Progress = Callable[[float, str], None]
# A batch's text is held twice (Python strings, then Arrow) and once more in DuckDB while it is
# inserted: 16M characters keeps that well inside the import's database memory limit.
_MAX_BATCH_CHARS = 16_000_000
# A label column with more distinct values than this holds free text, not a classification's label set.
MAX_LABELS_FROM_FILE = 50


@dataclass
class ImportOptions:
    """What the user chose for one import."""

    mask_pii: tuple[str, ...] = field(default=(), metadata={"help": "PII maskers to apply: email, phone."})
    mapping: ColumnMapping | None = field(default=None, metadata={"help": "Table columns; None guesses them."})
    split_forwarded: bool = field(default=False, metadata={
        "help": "Import each forwarded message as an item of its own, linked back to the email that forwarded "
                "it, instead of as part of that email's text."})


@dataclass
class ImportReport:
    import_id: int | None
    project: str
    imported: int = 0
    duplicates: int = 0
    paired: int = 0
    """Rows that arrived already paired (input/output or text/label columns) and became examples at once."""
    errors: list[FileError] = field(default_factory=list)
    seconds: float = 0.0
    labels_from_file: list[str] = field(default_factory=list)
    """The labels a new classification project took from the files' label column (see create_import_project)."""
    preference_pairs: int = 0
    """Rows in TRL's preference form (prompt, chosen, rejected): kept as the project's preference pairs, not items."""

    def to_dict(self) -> dict:
        report = asdict(self)
        report["skipped"] = len(self.errors)
        return report

    def summary(self) -> str:
        text = f"Imported {self.imported} item(s) into {quoted(self.project)}, {self.duplicates} duplicate(s) left out"
        if self.paired:
            text += f", {self.paired} ready-made example(s)"
        if self.errors:
            text += f", {len(self.errors)} file(s) or record(s) skipped"
        text += f" ({self.seconds:.1f} s)."
        if self.labels_from_file:
            text += f" Labels found in the file's label column: {', '.join(self.labels_from_file)}."
        if self.preference_pairs:
            text += (f" {self.preference_pairs} preference pair(s) imported; freeze them as a preference version in "
                     f"the Datasets tab (Preference pairs) or with `ftstudio preferences --project {self.project!r} "
                     "--freeze`.")
        return text


def normalise_for_hash(text: str) -> str:
    """Equal up to Unicode form, case and whitespace means equal content."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(record: RawRecord) -> str:
    key = normalise_for_hash((record.title or "") + "\n" + record.text)
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


def to_utc(iso: str | None) -> datetime | None:
    """An ISO 8601 string as naive UTC (what the TIMESTAMP column holds), or None when unparseable."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _preference_pair(record: RawRecord, mask: tuple[str, ...]) -> dict:
    """A preference record as the pair the store keeps, masked like an item's text."""
    pair = {key: mask_text(record.metadata[key], mask) if mask and record.metadata[key] else record.metadata[key]
            for key in PREFERENCE_FIELDS}
    return {**pair, "conversational": bool(record.metadata.get("conversational")), "source": record.source}


def _total_bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        elif path.exists():
            total += path.stat().st_size
    return max(total, 1)


class _Batch:
    """Rows collected column-wise, turned into one Arrow table per flush."""

    def __init__(self):
        self.columns: dict[str, list] = {name: [] for name in ITEM_ARROW_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.columns["text"])

    chars = 0
    """Characters of text and metadata held: a batch of long posts is flushed before it reaches batch_size."""

    def add(self, record: RawRecord, digest: str, mask: tuple[str, ...]) -> None:
        c = self.columns
        c["content_hash"].append(digest)
        c["kind"].append(record.kind)
        c["source"].append(record.source)
        c["title"].append(mask_text(record.title, mask) if (mask and record.title) else record.title)
        c["author"].append(mask_text(record.author, mask) if (mask and record.author) else record.author)
        c["written_at"].append(to_utc(record.created_at))
        c["text"].append(mask_text(record.text, mask) if mask else record.text)
        metadata = mask_value(record.metadata, mask) if mask else record.metadata
        c["metadata"].append(json.dumps(metadata, ensure_ascii=False, default=str) if metadata else None)
        self.chars += len(c["text"][-1]) + len(c["metadata"][-1] or "")
        c["pii_masked"].append(bool(mask))

    def table(self) -> pa.Table:
        return pa.table(self.columns, schema=ITEM_ARROW_SCHEMA)


def import_paths(
    store: Store,
    project: Project,
    paths: Iterable[Path | str],
    limits: IngestLimits | None = None,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    user_name: str | None = None,
    batch_size: int = 5000,
    display_names: dict[str, str] | None = None,
) -> ImportReport:
    """Import files, folders and zips into `project`, whole or not at all; bad files are skipped with a reason.

    Streams: records are read one at a time and staged in committed batches of `batch_size`, out of
    sight of every query, then published in one transaction at the end (see Store.stage_items), so
    memory stays bounded whatever the size of the files, and a killed import leaves nothing visible
    (its staged rows are deleted when the store next opens). It does not resume: run it again.
    `display_names` maps a path to the name the user knows it by (an upload's original file name).
    """
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    limits = limits or IngestLimits()
    options = options or ImportOptions()
    check_masker_names(options.mask_pii)
    names = display_names or {}
    report = ImportReport(import_id=store.reserve_import_id(), project=project.name)
    total_bytes = _total_bytes(paths)
    seen_bytes = 0
    seen_hashes: set[str] = set()
    batch = _Batch()
    preference_pairs: list[dict] = []
    record_count = 0
    staged = 0

    def tell(fraction: float) -> None:
        if progress:
            progress(fraction, f"{format_bytes(min(seen_bytes, total_bytes))} of {format_bytes(total_bytes)} · "
                               f"{record_count:,} records read")

    def flush() -> None:
        nonlocal batch, staged
        if len(batch):
            inserted = store.stage_items(project.id, report.import_id, batch.table())
            staged += inserted
            report.duplicates += len(batch) - inserted
            batch = _Batch()

    try:
        with store.bounded_memory(limits.database_memory):
            for entry in iter_records(paths, limits, options.mapping):
                if isinstance(entry, FileError):
                    report.errors.append(entry)
                    continue
                record_count += 1
                seen_bytes += entry.size or len(entry.text)
                for record in split_forwarded(entry) if options.split_forwarded and entry.forwarded else (entry,):
                    digest = content_hash(record)
                    if digest in seen_hashes:
                        report.duplicates += 1
                        continue
                    seen_hashes.add(digest)
                    if record.kind == PREFERENCE_KIND:
                        preference_pairs.append(_preference_pair(record, options.mask_pii))
                        continue
                    batch.add(record, digest, options.mask_pii)
                if len(batch) >= batch_size or batch.chars >= _MAX_BATCH_CHARS:
                    flush()
                if record_count % 1000 == 0 or len(batch) == 0:
                    tell(min(0.99, seen_bytes / total_bytes))
            flush()
            with store.transaction() as tx:
                store.begin_import(
                    tx, project.id, [names.get(str(p), p.name) for p in paths],
                    {"mask_pii": list(options.mask_pii),
                     "mapping": asdict(options.mapping) if options.mapping else None,
                     "split_forwarded": options.split_forwarded},
                    user_name, import_id=report.import_id,
                )
                report.imported = store.publish_import(tx, project.id, report.import_id)
                report.duplicates += staged - report.imported
                report.paired = store.paired_items_to_examples(tx, project.id, report.import_id, project.task_type)
                report.preference_pairs = store.add_imported_preferences(tx, project.id, report.import_id,
                                                                         preference_pairs)
                errors = [asdict(e) for e in report.errors]
                store.finish_import(tx, report.import_id, report.imported, report.duplicates, errors)
                store.audit("import", project.name, {"import_id": report.import_id, "imported": report.imported,
                                                      "duplicates": report.duplicates, "skipped": len(errors),
                                                      "mask_pii": list(options.mask_pii)}, user_name, tx)
    except BaseException:
        store.discard_staged_items(report.import_id)  # nothing of a failed import stays behind
        raise
    tell(1.0)
    report.seconds = time.perf_counter() - started
    return report


def labels_in_files(paths: Iterable[Path | str], limits: IngestLimits | None = None,
                    mapping: ColumnMapping | None = None) -> list[str]:
    """The distinct values of the files' label column (compared regardless of case), in order of first appearance;
    [] when no file has one. Reads the files through, so only call it for a project that needs labels."""
    found: dict[str, str] = {}
    for entry in iter_records([Path(p) for p in paths], limits or IngestLimits(), mapping):
        if isinstance(entry, FileError):
            continue  # the import itself reports it
        value = entry.metadata.get("label")
        text = "" if value is None else str(value).strip()
        if text:
            found.setdefault(text.casefold(), text)
    return list(found.values())


def create_import_project(store: Store, name: str, task_type: str, labels: list[str] | None,
                          paths: Iterable[Path | str], limits: IngestLimits | None = None,
                          mapping: ColumnMapping | None = None,
                          user_name: str | None = None) -> tuple[Project, list[str]]:
    """Create the project an import goes into. A classification project given no labels takes them from the files'
    label column: returns the project and the labels taken from the files ([] when none were)."""
    found: list[str] = []
    if task_type == "classification" and not labels:
        found = labels_in_files(paths, limits, mapping)
        if len(found) > MAX_LABELS_FROM_FILE:
            raise StoreError(f"The label column holds {len(found):,} different values, too many for a "
                             "classification's label set: list the labels with the project (--labels in the CLI, "
                             "Labels in the Data tab), or map another column as the label.")
        if len(found) == 1:
            raise StoreError(f"The label column holds only {found[0]!r}: a classification project needs at least two "
                             "labels. List them with the project (--labels in the CLI, Labels in the Data tab).")
        labels = found or None
    project = store.create_project(name, task_type, labels=labels, user_name=user_name)
    return project, found
