"""Turn files, folders and zip archives of posts, emails and tables into plain records.

No database access here: `iter_records` yields RawRecord for every item read and FileError for
everything skipped, and the caller decides what to store. A bad file never stops the others.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path

from ..config import IngestLimits
from .archives import is_hidden, read_zip
from .emails import read_eml, read_mbox
from .blog_exports import is_substack_posts_csv, read_html, read_substack, read_xml, substack_side_file
from .outlook import read_msg
from .x_archive import read_x_javascript
from .hf_dataset import is_saved_dataset, read_saved_dataset, read_zipped_dataset, zip_holds_dataset
from .files import ArchiveLimitExceeded, InputFile, SkippedFile, format_bytes
from .records import ColumnMapping, FileError, RawRecord
from .tables import TABLE_SUFFIXES, guess_mapping, read_table, table_columns
from .text import read_text

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ColumnMapping",
    "FileError",
    "RawRecord",
    "guess_mapping",
    "inspect_columns",
    "iter_records",
]

Reader = Callable[[InputFile, IngestLimits, ColumnMapping | None], Iterator[RawRecord | FileError]]

_READERS: dict[str, Reader] = {
    ".eml": read_eml,
    ".mbox": read_mbox,
    ".msg": read_msg,
    ".txt": read_text,
    ".md": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".xml": read_xml,
    ".js": read_x_javascript,
    **{suffix: read_table for suffix in TABLE_SUFFIXES},
}
SUPPORTED_SUFFIXES: tuple[str, ...] = (*_READERS, ".zip")


def iter_records(
    paths: Iterable[Path], limits: IngestLimits, mapping: ColumnMapping | None = None
) -> Iterator[RawRecord | FileError]:
    """Every record in the given files and folders (folders recursively, in name order), and a FileError
    for each file or item skipped. `mapping` applies to table files; unset fields are guessed.

    Sources are relative to what was given: 'inbox.mbox#17', 'export/notes.txt', 'export.zip/Shares.csv#3'.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    for path in map(Path, paths):
        if path.is_dir() and is_saved_dataset(path):
            yield from read_saved_dataset(path, path.resolve().name, mapping)
        elif path.is_dir():
            root_name = path.resolve().name or str(path)
            for file_path, relative in _walk(path):
                yield from _read_path(file_path, f"{root_name}/{relative}", limits, mapping)
        elif path.suffix.lower() == ".zip" and (inner := _zipped_dataset(path)) is not None:
            yield from read_zipped_dataset(path, inner, path.name, limits.max_archive_bytes, mapping)
        elif path.exists():
            yield from _read_path(path, path.name, limits, mapping)
        else:
            yield FileError(str(path), "does not exist")


def _zipped_dataset(path: Path) -> str | None:
    """Where a zip holds a saved `datasets` folder, if it does (the browser can upload a folder only zipped)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return zip_holds_dataset(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return None  # read_zip reports a broken zip with its reason


def inspect_columns(path: Path, limits: IngestLimits) -> list[str]:
    """Column names of a table file (.csv, .jsonl, .json, .parquet), for a column-mapping picker.

    Raises ValueError with a reason a user can act on when the file is not a readable table.
    """
    path = Path(path)
    file = _disk_file(path, path.name)
    if file.suffix not in TABLE_SUFFIXES:
        raise ValueError(f"{path.name}: only table files have columns ({', '.join(TABLE_SUFFIXES)})")
    problem = _size_problem(file, limits)
    if problem:
        raise ValueError(f"{path.name}: {problem}")
    try:
        return table_columns(file, limits)
    except SkippedFile as error:
        raise ValueError(f"{path.name}: {error.reason}") from None


def _walk(folder: Path) -> Iterator[tuple[Path, str]]:
    """(path, path relative to folder) of every non-hidden file under folder, sorted by that relative path."""
    found = []
    for directory, subdirectories, filenames in os.walk(folder):
        subdirectories[:] = [name for name in subdirectories if not is_hidden(name)]
        for name in filenames:
            if not is_hidden(name):
                file_path = Path(directory, name)
                found.append((file_path.relative_to(folder).as_posix(), file_path))
    for relative, file_path in sorted(found):
        yield file_path, relative


def _disk_file(path: Path, source: str) -> InputFile:
    return InputFile(source=source, size=path.stat().st_size, open=lambda: open(path, "rb"),
                     sibling=partial(_disk_sibling, path, source))


def _disk_sibling(path: Path, source: str, relative: str) -> InputFile | None:
    other = path.parent / relative
    if not other.is_file():
        return None
    return _disk_file(other, posixpath.normpath(posixpath.join(posixpath.dirname(source), relative)))


def _read_path(path: Path, source: str, limits, mapping) -> Iterator[RawRecord | FileError]:
    try:
        file = _disk_file(path, source)
    except OSError as error:
        yield FileError(source, f"could not be read ({error.strerror or error})")
        return
    yield from read_file(file, limits, mapping)


def _size_problem(file: InputFile, limits: IngestLimits) -> str | None:
    if file.size == 0:
        return "is empty (0 bytes)"
    # A zip on disk is read member by member, never whole: max_archive_bytes governs it instead; an
    # mbox on disk is streamed one message at a time, and max_file_bytes applies to each message.
    if file.size > limits.max_file_bytes and not (file.suffix in (".zip", ".mbox") and file.depth == 0):
        return (
            f"{format_bytes(file.size)} is over the {format_bytes(limits.max_file_bytes)} limit for one file; "
            "split it into smaller files or raise max_file_bytes in the ingest settings"
        )
    return None


def _export_reader(file: InputFile) -> Reader | None:
    """A platform export's own reader for a .csv that is part of one (Substack's posts.csv, and the
    per-post and subscriber lists beside it, which are not imported), else None."""
    if file.suffix != ".csv":
        return None
    if is_substack_posts_csv(file):
        return read_substack
    side = substack_side_file(file)
    if side is None:
        return None
    return lambda file, limits, mapping: iter([FileError(file.source, side)] if side else [])


def read_file(file: InputFile, limits: IngestLimits, mapping: ColumnMapping | None) -> Iterator[RawRecord | FileError]:
    """Records of one file on disk or in an archive; every failure becomes a FileError for that file."""
    suffix = file.suffix
    if suffix not in SUPPORTED_SUFFIXES:
        what = f"'{suffix}' files are" if suffix else "files without an extension are"
        yield FileError(file.source, f"skipped: {what} not supported; supported: {', '.join(SUPPORTED_SUFFIXES)}")
        return
    problem = _size_problem(file, limits)
    if problem:
        yield FileError(file.source, problem)
        return
    if suffix == ".zip":
        items = read_zip(file, limits, lambda member: read_file(member, limits, mapping))
    else:
        items = (_export_reader(file) or _READERS[suffix])(file, limits, mapping)
    try:
        for item in items:
            if isinstance(item, RawRecord) and len(item.text) > limits.max_text_chars:
                item = FileError(
                    item.source,
                    f"its text is {len(item.text):,} characters, over the {limits.max_text_chars:,} limit; "
                    "split it into shorter posts or raise max_text_chars in the ingest settings",
                )
            yield item
    except ArchiveLimitExceeded:
        raise  # stops the whole outer archive: read_zip of the outermost one reports it
    except SkippedFile as error:
        yield FileError(file.source, error.reason)
    except MemoryError:
        yield FileError(file.source, "ran out of memory while reading it; split it into smaller files")
    except Exception as error:  # one unexpected failure must not stop the other files
        yield FileError(file.source, f"could not be read ({type(error).__name__}: {error})")
