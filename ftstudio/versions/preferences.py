"""Preference versions: {prompt, chosen, rejected} pairs frozen into immutable, content-hashed, split versions
that DPO trains on. The pairs come from review votes and trusted judge verdicts (the rule that picks them is
ftstudio.evaluation.preference_pairs), from preference files imported into the project, or from a file given at
freeze time. Two answers with the same words are never a preference: they are never frozen.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from ftstudio.ingest.preferences import PreferenceRowError, preference_rows
from ftstudio.store import Project, Store, Version
from ftstudio.versions.splits import SPLITS, SplitPlan, VersionError, assign_splits
from ftstudio.versions.writer import PREFERENCES, write_version

HUMAN, JUDGE, FILE = "human", "judge", "file"
# Preference data has its own held-out prompts: the SFT version's test split is what the loop reviews on.
DEFAULT_PLAN = (0.9, 0.1, 0.0)


def same_words(first: str | None, second: str | None) -> bool:
    """Two answers with the same words (whitespace aside): the judge's tie without asking, and never a pair."""
    return " ".join((first or "").split()) == " ".join((second or "").split())


# --- files --------------------------------------------------------------------------


def _read_records(path: Path) -> list[dict]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise VersionError(f"{path.name} line {number} is not JSON ({error.msg}): fix or remove it.") \
                        from None
        return records
    if suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    raise VersionError(f"{path.name}: preference pairs come as .jsonl or .parquet files with prompt, chosen and "
                       "rejected columns.")


def read_preference_file(path: Path) -> list[dict]:
    """Pairs from JSONL or Parquet in TRL's preference forms: standard (prompt, chosen, rejected as text),
    conversational (lists of messages), or with the prompt implicit in chosen and rejected."""
    path = Path(path)
    records = _read_records(path)
    if not records:
        raise VersionError(f"{path.name} holds no rows.")
    try:
        rows = preference_rows(records, path.name)
    except PreferenceRowError as error:
        raise VersionError(str(error)) from None
    return [{"input": None if row["conversational"] else row["prompt"], "prompt": row["prompt"],
             "chosen": row["chosen"], "rejected": row["rejected"], "conversational": row["conversational"],
             "source": FILE, "detail": {"file": path.name, "row": row["row"]}} for row in rows]


def imported_preference_pairs(store: Store, project: Project) -> list[dict]:
    """The pairs imported into the project from preference files, as rows ready to freeze."""
    return [{"input": None if pair.conversational else pair.prompt, "prompt": pair.prompt, "chosen": pair.chosen,
             "rejected": pair.rejected, "conversational": pair.conversational, "source": FILE,
             "detail": {"file": pair.source, "import": pair.import_id}}
            for pair in store.imported_preferences(project.id)]


# --- freezing -------------------------------------------------------------------------


def _content_hash(rows: list[dict]) -> str:
    digest = hashlib.sha256(b"preferences")
    for row in sorted(rows, key=lambda r: (r["split"], r["prompt"], r["chosen"], r["rejected"])):
        digest.update(json.dumps([row["split"], row["prompt"], row["chosen"], row["rejected"]]).encode())
    return digest.hexdigest()[:16]


def freeze_preference_rows(store: Store, project: Project, rows: list[dict], plan: SplitPlan | None = None,
                           name: str | None = None, user_name: str | None = None, origin: dict | None = None
                           ) -> Version:
    """Split and freeze pairs; the same pairs frozen again return the existing version.

    Pairs sharing a prompt (or a near-duplicate one) always land in the same split; pairs whose chosen and
    rejected have the same words are left out (and counted as `identical_left_out`)."""
    identical = sum(same_words(row["chosen"], row["rejected"]) for row in rows)
    rows = [row for row in rows if not same_words(row["chosen"], row["rejected"])]
    if not rows:
        raise VersionError("There are no preference pairs to freeze" + (
            f": the {identical} given had chosen and rejected with the same words." if identical else "."))
    forms = Counter(bool(row.get("conversational")) for row in rows)
    if len(forms) > 1:
        raise VersionError(f"These preference pairs mix text and conversational forms ({forms[False]} text, "
                           f"{forms[True]} as lists of messages): TRL trains on one form at a time. Import each form "
                           "into a project of its own, or write the file in one form.")
    plan = plan or SplitPlan(DEFAULT_PLAN)
    splits = assign_splits([row["prompt"] for row in rows], [None] * len(rows), plan)
    rows = [dict(row, split=split) for row, split in zip(rows, splits)]
    counts = {split: splits.count(split) for split in SPLITS}
    counts["sources"] = dict(Counter(row["source"] for row in rows))
    if identical:
        counts["identical_left_out"] = identical
    return write_version(store, project, PREFERENCES, _content_hash(rows), rows,
                         template=project.settings.get("template") or {},
                         split={"fractions": list(plan.fractions), "seed": plan.seed, **(origin or {})},
                         counts=counts, name=name, user_name=user_name)


def trained_inputs(store: Store, version: Version) -> set[str]:
    """The inputs of the pairs a DPO run on this version trains on (the loop's review leaves them out)."""
    return {row.input for row in store.preference_rows(version.id, "train") if row.input}
