"""Rows in TRL's preference form: `prompt`, `chosen`, `rejected` as text (standard), as lists of messages
(conversational), or with the prompt implicit in chosen and rejected. One reader for the import of a table and
the Datasets tab's pairs file alike; no database access here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .records import RawRecord

PREFERENCE_KIND = "preference"
"""The kind of a RawRecord that is a preference pair, not an item: its metadata holds prompt, chosen, rejected."""
PREFERENCE_FIELDS = ("prompt", "chosen", "rejected")


class PreferenceRowError(ValueError):
    """A row that is not a preference pair, in words a user can act on (without the file's name)."""


def is_preference_table(columns: Iterable[str]) -> bool:
    """Whether a table's columns are TRL's preference form: chosen and rejected (and usually prompt)."""
    return {"chosen", "rejected"} <= {column.strip().lower() for column in columns}


def plain(value):
    """Parquet (through pandas) gives numpy arrays for lists; JSON wants lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def preference_fields(record: dict) -> dict:
    """prompt, chosen and rejected as text (JSON-encoded messages when conversational), and `conversational`.

    A row without a prompt has it extracted from what chosen and rejected share (TRL's extract_prompt)."""
    record = {key.strip().lower(): plain(value) for key, value in record.items()}
    if not {"chosen", "rejected"} <= set(record):
        raise PreferenceRowError(" has no chosen and rejected fields: preference pairs need prompt, chosen and "
                                 "rejected (or chosen and rejected conversations).")
    if record.get("prompt") is None:
        from trl.data_utils import extract_prompt  # TRL's own reading of the implicit-prompt form

        record = {**record, **extract_prompt(record)}
    from trl.data_utils import is_conversational

    conversational = is_conversational(record)
    values = [record.get(key) for key in PREFERENCE_FIELDS]
    if conversational:
        values = [json.dumps(value, ensure_ascii=False) for value in values]
    if not all(isinstance(value, str) and value.strip() for value in values[1:]) or not isinstance(values[0], str):
        raise PreferenceRowError(": prompt, chosen and rejected must be text (or lists of messages), and chosen "
                                 "and rejected must not be empty.")
    return {"prompt": values[0], "chosen": values[1], "rejected": values[2], "conversational": conversational}


def preference_rows(records: Iterable[dict], name: str) -> list[dict]:
    """Every row's fields, numbered from 1; ValueError naming the file and row for the first that is not a
    pair, or when text and conversational rows are mixed (TRL trains on one form at a time)."""
    rows = []
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise PreferenceRowError(f"{name} row {number} has no chosen and rejected fields: preference pairs need "
                                     "prompt, chosen and rejected (or chosen and rejected conversations).")
        try:
            rows.append({**preference_fields(record), "row": number})
        except PreferenceRowError as error:
            raise PreferenceRowError(f"{name} row {number}{error}") from None
    if len({row["conversational"] for row in rows}) > 1:
        raise PreferenceRowError(f"{name} mixes text and conversational rows: TRL trains on one form at a time, so "
                                 "write every row the same way.")
    return rows


def preference_records(rows: Iterable[dict], source: str) -> Iterator[RawRecord]:
    """A table in preference form as records of kind PREFERENCE_KIND; the whole table is read first, so a bad
    row late in it leaves nothing half imported."""
    for pair in preference_rows(rows, ""):
        # The whole pair is the text: it is what an import deduplicates on, and one prompt may have many pairs.
        text = "\n\n".join((pair["prompt"], pair["chosen"], pair["rejected"]))
        yield RawRecord(text=text, source=f"{source}#{pair['row']}", kind=PREFERENCE_KIND,
                        metadata={key: pair[key] for key in (*PREFERENCE_FIELDS, "conversational")})
