"""Read tables (.csv, .jsonl, .json, .parquet): one RawRecord per row that has text.

Which column holds the text, title, author, date, input, output and label is guessed from the
column names; a ColumnMapping chosen by the user overrides the guess field by field.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import fields

from .dates import parse_date
from .files import InputFile, SkippedFile, decode_text
from .preferences import PreferenceRowError, is_preference_table, preference_records
from .records import ColumnMapping, FileError, RawRecord

TABLE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")

# Column names recognised for each field, compared without case, spaces or underscores; first wins.
GUESSES: dict[str, tuple[str, ...]] = {
    "text": ("text", "content", "body", "post", "message", "commentary", "sharecommentary"),
    "title": ("subject", "title"),
    "author": ("author", "from", "name"),
    "date": ("date", "createdat", "timestamp", "time"),
    # 'instruction' before 'input': in Alpaca-style data 'input' is optional extra context.
    "input": ("instruction", "prompt", "question", "input"),
    "output": ("output", "completion", "response", "answer"),
    "label": ("label", "category", "class"),
}
_ROLES = [f.name for f in fields(ColumnMapping)]
# The shares file of LinkedIn's data export ("Get a copy of your data"): its rows are the user's posts.
_LINKEDIN_SHARES = {"sharecommentary", "sharelink"}


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess_mapping(columns: list[str]) -> ColumnMapping:
    """The column mapping guessed from column names alone."""
    by_normal: dict[str, str] = {}
    for column in columns:
        by_normal.setdefault(_normal(column), column)
    mapping = ColumnMapping()
    for role, names in GUESSES.items():
        for name in names:
            if name in by_normal:
                setattr(mapping, role, by_normal[name])
                break
    return mapping


def resolve_mapping(columns: list[str], chosen: ColumnMapping | None) -> ColumnMapping:
    """The guess, overridden by every field the user set; SkippedFile when a chosen column is missing."""
    guess = guess_mapping(columns)
    if chosen is None:
        return guess
    explicit: dict[str, str] = {}
    for role in _ROLES:
        name = getattr(chosen, role)
        if not name:
            continue
        if name not in columns:
            # Forgive case: 'sharecommentary' for 'ShareCommentary'.
            matches = [column for column in columns if column.lower() == name.lower()]
            if len(matches) != 1:
                raise SkippedFile(
                    f"has no column named {name!r} (chosen as the {role} column); its columns are: "
                    f"{_list(columns)}. Pick one of these in the column mapping"
                )
            name = matches[0]
        explicit[role] = name
    used = set(explicit.values())
    resolved = ColumnMapping()
    for role in _ROLES:
        guessed = getattr(guess, role)
        setattr(resolved, role, explicit.get(role) or (guessed if guessed not in used else None))
    return resolved


def table_columns(file: InputFile, limits) -> list[str]:
    """The column names of a table file."""
    if file.suffix == ".parquet":
        stream, parquet_file = _open_parquet(file)
        with stream:
            return list(parquet_file.schema_arrow.names)
    columns, _rows = _load(file, limits)
    return columns


def read_table(file: InputFile, limits, mapping: ColumnMapping | None = None) -> Iterator[RawRecord | FileError]:
    """One record per row with non-empty text."""
    columns, rows = _load(file, limits)
    if file.suffix != ".parquet":
        # Read every row before yielding any, so that a broken row late in the file never leaves
        # the first rows imported and the rest missing. Parquet is checked by its footer instead.
        rows = list(rows)
    yield from rows_to_records(columns, rows, file.source, mapping)


def rows_to_records(columns: list[str], rows: Iterable[dict], source: str,
                    mapping: ColumnMapping | None = None) -> Iterator[RawRecord]:
    """Records of table rows through the (guessed or chosen) column mapping; shared by every tabular source.

    A table in TRL's preference form (chosen and rejected columns), with no mapping chosen, gives preference
    pairs (records of kind 'preference'), not items."""
    if mapping is None and is_preference_table(columns):
        try:
            yield from preference_records(rows, source)
        except PreferenceRowError as error:
            raise SkippedFile(f"is in the preference form (chosen and rejected columns), but {str(error).strip()}") \
                from None
        return
    resolved = resolve_mapping(columns, mapping)
    text_column = resolved.text or resolved.output or resolved.input
    if text_column is None:
        names = ", ".join(GUESSES["text"])
        raise SkippedFile(
            f"has no text column: none of its columns ({_list(columns)}) is named like {names}, "
            "and there is no output column. Choose the text column in the column mapping"
        )
    kind = "post" if _LINKEDIN_SHARES <= {_normal(c) for c in columns} else "row"
    yielded = False
    # Paired rows without a text column: the item shows (and is deduplicated on) the whole pair, so two
    # questions with the same answer, or two texts with the same label, stay two items.
    paired = resolved.text is None and bool(resolved.input)
    for number, row in enumerate(rows, start=1):
        if paired:
            text = "\n\n".join(part for part in (_cell_text(row.get(resolved.input)),
                                                 _cell_text(row.get(resolved.output)) if resolved.output else "") if part)
        else:
            text = _cell_text(row.get(text_column))
        if not text:
            continue
        yielded = True
        yield RawRecord(
            text=text,
            source=f"{source}#{number}",
            kind=kind,
            title=(_cell_text(row.get(resolved.title)) or None) if resolved.title else None,
            author=(_cell_text(row.get(resolved.author)) or None) if resolved.author else None,
            created_at=parse_date(row.get(resolved.date)) if resolved.date else None,
            metadata=_metadata(row, resolved),
        )
    if not yielded:
        raise SkippedFile(f"has no row with text in its {text_column!r} column")


def _metadata(row: dict, mapping: ColumnMapping) -> dict:
    """The row's other columns, JSON-ready; input/output/label under those names.

    The date column stays too, as written: created_at is our reading of it and may be None.
    """
    own = {mapping.text, mapping.title, mapping.author, mapping.input, mapping.output, mapping.label}
    metadata = {column: jsonable(value) for column, value in row.items() if column not in own}
    for role in ("input", "output", "label"):
        column = getattr(mapping, role)
        if column:
            metadata[role] = jsonable(row.get(column))
    return metadata


def _cell_text(value: object) -> str:
    if value is None or isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).replace("\r\n", "\n").strip()


def jsonable(value: object) -> object:
    """A cell value as something json.dumps accepts: NaN -> None, dates -> ISO 8601, bytes -> text."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(item) for item in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


def _list(columns: Iterable[str]) -> str:
    return ", ".join(repr(column) for column in columns) or "(none)"


# ---------------------------------------------------------------- loaders: (columns, rows as dicts)


def _load(file: InputFile, limits) -> tuple[list[str], Iterable[dict]]:
    loader = {".csv": _load_csv, ".jsonl": _load_jsonl, ".json": _load_json, ".parquet": _load_parquet}[file.suffix]
    return loader(file, limits)


def _load_csv(file: InputFile, limits) -> tuple[list[str], Iterator[dict]]:
    text = decode_text(file.read_bytes())
    first_line = text.split("\n", 1)[0]
    # Excel in many European locales writes ';', some tools write tabs: the header line tells.
    delimiter = max(",;\t", key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    # A long post in one cell must not trip csv's 128 KB field limit; no field can outgrow the file.
    csv.field_size_limit(max(csv.field_size_limit(), min(limits.max_file_bytes, 2**31 - 1)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise SkippedFile("has no header row") from None
    except csv.Error as error:
        raise SkippedFile(f"is not valid CSV ({error}); save it again as CSV") from None
    columns = _unique_names(header)

    def rows() -> Iterator[dict]:
        try:
            for values in reader:
                if not any(value.strip() for value in values):
                    continue
                row = dict(zip(columns, values))
                if len(values) > len(columns):
                    row["_extra"] = values[len(columns) :]
                yield row
        except csv.Error as error:
            raise SkippedFile(
                f"is not valid CSV near line {reader.line_num} ({error}); nothing from it was imported. "
                "Fix that line (often an unclosed quote) and import it again"
            ) from None

    return columns, rows()


def _unique_names(header: list[str]) -> list[str]:
    """Header cells as distinct, non-empty column names ('column_3', 'Date_2')."""
    names: list[str] = []
    for index, cell in enumerate(header, start=1):
        name = cell.strip() or f"column_{index}"
        base, suffix = name, 2
        while name in names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.append(name)
    return names


def _load_jsonl(file: InputFile, limits) -> tuple[list[str], list[dict]]:
    text = decode_text(file.read_bytes())
    rows: list[dict] = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise SkippedFile(
                f"line {line_number} is not valid JSON ({error.msg} at column {error.colno}); nothing from "
                "this file was imported. Fix or remove that line and import the file again"
            ) from None
        if not isinstance(row, dict):
            raise SkippedFile(
                f"line {line_number} holds a JSON {type(row).__name__}, not an object; each line of a "
                ".jsonl file must be one object like {\"text\": \"...\"}"
            )
        rows.append(row)
    return _union_of_keys(rows), rows


def _load_json(file: InputFile, limits) -> tuple[list[str], list[dict]]:
    try:
        data = json.loads(decode_text(file.read_bytes()))
    except json.JSONDecodeError as error:
        raise SkippedFile(
            f"is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); fix it and import it again"
        ) from None
    if isinstance(data, dict):
        lists = [key for key, value in data.items() if isinstance(value, list) and value and isinstance(value[0], dict)]
        if len(lists) > 1:
            raise SkippedFile(
                f"holds several lists of objects ({_list(lists)}); save the one to import in a file of its own"
            )
        data = data[lists[0]] if lists else [data]
    if not isinstance(data, list):
        raise SkippedFile(f"holds a JSON {type(data).__name__}; expected a list of objects like [{{\"text\": \"...\"}}]")
    rows: list[dict] = []
    for index, item in enumerate(data, start=1):
        if isinstance(item, str):  # a plain list of posts
            item = {"text": item}
        if not isinstance(item, dict):
            raise SkippedFile(
                f"item {index} of its list is a JSON {type(item).__name__}, not an object; "
                "expected a list of objects like [{\"text\": \"...\"}]"
            )
        rows.append(item)
    return _union_of_keys(rows), rows


def _union_of_keys(rows: list[dict]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, None)
    return list(columns)


def _load_parquet(file: InputFile, limits) -> tuple[list[str], Iterator[dict]]:
    import pyarrow

    stream, parquet_file = _open_parquet(file)
    columns = list(parquet_file.schema_arrow.names)

    def rows() -> Iterator[dict]:
        with stream:
            try:
                for batch in parquet_file.iter_batches(batch_size=4096):
                    yield from batch.to_pylist()
            except (pyarrow.ArrowException, OSError) as error:
                raise SkippedFile(f"is corrupt part-way through ({error}); export or download it again") from None

    return columns, rows()


def _open_parquet(file: InputFile):
    """(open stream, pyarrow ParquetFile); SkippedFile when the footer cannot be read."""
    import pyarrow  # imported here: loading Arrow takes a noticeable moment and most imports never need it
    import pyarrow.parquet as parquet

    # Inside a zip the member stream cannot seek, and Parquet is read from its footer backwards.
    stream = file.open() if file.depth == 0 else io.BytesIO(file.read_bytes())
    try:
        return stream, parquet.ParquetFile(stream)
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        stream.close()
        raise SkippedFile(
            f"is not a readable Parquet file; it may be truncated or corrupt ({error}). Export or download it again"
        ) from None
