"""A `datasets` Dataset or DatasetDict saved with save_to_disk, as a folder or zipped: each row a record.

Rows go through the same column mapping as tables; a chat `messages` column is read
as input (the user turns) and output (the last assistant turn). The split name is kept
in the metadata.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .files import SkippedFile
from .records import ColumnMapping, FileError, RawRecord
from .tables import jsonable, rows_to_records

MARKERS = ("dataset_dict.json", "dataset_info.json")


def is_saved_dataset(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in MARKERS)


def zip_holds_dataset(names: list[str]) -> str | None:
    """The folder inside a zip that holds a saved dataset ('' for the zip's root), or None."""
    for name in sorted(names, key=len):
        for marker in MARKERS:
            if name == marker or name.endswith("/" + marker):
                return name[: -len(marker)]
    return None


def _from_messages(row: dict) -> dict:
    messages = row.get("messages") or []
    users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    answers = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    row = {k: v for k, v in row.items() if k != "messages"}
    row.setdefault("input", "\n\n".join(users))
    row.setdefault("output", answers[-1] if answers else "")
    return row


def read_saved_dataset(folder: Path, source: str, mapping: ColumnMapping | None) -> Iterator[RawRecord | FileError]:
    from datasets import DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(folder))
    except Exception as error:  # datasets raises several types for a broken or foreign folder
        yield FileError(source, f"is not a readable saved dataset ({type(error).__name__}: {error})")
        return
    splits = loaded.items() if isinstance(loaded, DatasetDict) else [("train", loaded)]
    for split, dataset in splits:
        columns = list(dataset.column_names)
        if "input" in columns or "messages" in columns:
            # ftstudio's own exports also carry the rendered prompt/completion: the raw fields are the data.
            dataset = dataset.remove_columns([c for c in ("prompt", "completion") if c in columns])
            columns = list(dataset.column_names)
        rows = ({**_from_messages(dict(r)), "split": split} if "messages" in columns else {**r, "split": split}
                for r in dataset)
        if "messages" in columns:
            columns = [c for c in columns if c != "messages"] + [c for c in ("input", "output") if c not in columns]
        try:
            for record in rows_to_records(columns + ["split"], ({k: jsonable(v) for k, v in r.items()} for r in rows),
                                          f"{source}/{split}", mapping):
                yield record
        except SkippedFile as error:
            yield FileError(f"{source}/{split}", error.reason)


def read_zipped_dataset(path: Path, inner: str, source: str, max_bytes: int,
                        mapping: ColumnMapping | None) -> Iterator[RawRecord | FileError]:
    """Unpack the dataset folder of a zip (within the archive size limit) and read it."""
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if m.filename.startswith(inner) and not m.is_dir()]
        if sum(m.file_size for m in members) > max_bytes:
            yield FileError(source, "the saved dataset inside is larger than the archive limit; raise max_archive_bytes")
            return
        with tempfile.TemporaryDirectory(prefix="ftstudio-dataset-") as staging:
            for member in members:
                target = Path(staging, member.filename[len(inner):])
                if ".." in Path(member.filename).parts or member.filename.startswith("/"):
                    yield FileError(f"{source}/{member.filename}", "has an unsafe path and was skipped")
                    return
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
            yield from read_saved_dataset(Path(staging), source, mapping)
