"""Read .zip archives: every member goes back through the format readers, nested zips included.

Limits guard against zip bombs: the sizes members declare are checked before anything is read,
and the bytes actually decompressed are counted while reading, because declared sizes can lie.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from collections.abc import Callable, Iterator
from functools import partial

from .files import ArchiveBudget, ArchiveLimitExceeded, InputFile, SkippedFile, format_bytes
from .records import FileError, RawRecord

# Operating-system clutter, skipped without a word.
JUNK_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini"}


def is_hidden(name: str) -> bool:
    """Hidden files and folders and OS clutter (.DS_Store, __MACOSX, Office lock files '~$...')."""
    return name.startswith((".", "~$")) or name in JUNK_NAMES


def read_zip(
    file: InputFile, limits, read_member: Callable[[InputFile], Iterator[RawRecord | FileError]]
) -> Iterator[RawRecord | FileError]:
    """Records of every supported member, in name order; `read_member` reads one member file."""
    if file.depth > limits.max_archive_depth:
        raise SkippedFile(
            f"is a zip nested more than {limits.max_archive_depth} archives deep; unpack it and import its files"
        )
    owner = file.budget is None  # the outermost archive owns the allowance its nested zips share
    if owner and file.size > limits.max_archive_bytes:
        raise SkippedFile(
            f"is {format_bytes(file.size)}, over the {format_bytes(limits.max_archive_bytes)} limit for one "
            "archive; unpack it and import the files you need, or raise max_archive_bytes in the ingest settings"
        )
    budget = file.budget or ArchiveBudget(
        bytes_left=limits.max_archive_bytes,
        members_left=limits.max_archive_members,
        bytes_limit=limits.max_archive_bytes,
    )
    # zipfile seeks to the central directory at the end: a member of an outer zip is read into memory
    # first (it is within max_file_bytes, checked by the caller).
    stream = file.open() if file.depth == 0 else io.BytesIO(file.read_bytes())
    try:
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
            raise SkippedFile(
                f"is not a readable zip archive; it may be truncated or corrupt ({error}). "
                "Download or create it again"
            ) from None
        with archive:
            yield from _read_members(archive, file, limits, budget, read_member)
    except ArchiveLimitExceeded as error:
        if not owner:
            raise
        raise SkippedFile(str(error)) from None
    finally:
        stream.close()


def _read_members(archive, file, limits, budget, read_member):
    members = []
    for info in sorted(archive.infolist(), key=lambda info: info.filename):
        parts = info.filename.replace("\\", "/").split("/")
        if info.is_dir() or any(is_hidden(part) for part in parts if part not in ("", "..")):
            continue
        members.append((info, parts))
    if not members:
        raise SkippedFile("has no files to import (it is empty or holds only folders and hidden files)")
    if len(members) > budget.members_left:
        raise ArchiveLimitExceeded(
            f"has more than {limits.max_archive_members} files; unpack it and import the files you need, "
            "or raise max_archive_members in the ingest settings"
        )
    budget.members_left -= len(members)
    declared = sum(info.file_size for info, _ in members)
    if declared > budget.bytes_left:
        raise ArchiveLimitExceeded(
            f"would unpack to {format_bytes(declared)}, over the {format_bytes(limits.max_archive_bytes)} limit "
            "for one archive; unpack it and import the parts you need, or raise max_archive_bytes in the ingest settings"
        )
    for info, parts in members:
        source = f"{file.source}/{info.filename}"
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            # Nothing is extracted to disk, but such a name is a sign of a crafted archive.
            yield FileError(source, "skipped: its name points outside the archive (absolute path or '..')")
            continue
        member = InputFile(
            source=source,
            size=info.file_size,
            open=partial(_open_member, archive, info, budget, limits),
            depth=file.depth + 1,
            budget=budget,
            sibling=partial(_member_sibling, archive, file, budget, limits, info.filename),
        )
        yield from read_member(member)


def _member_sibling(archive, file, budget, limits, name: str, relative: str) -> InputFile | None:
    """Another member of the same zip, by a path relative to member `name`'s folder."""
    wanted = posixpath.normpath(posixpath.join(posixpath.dirname(name), relative))
    try:
        info = archive.getinfo(wanted)
    except KeyError:
        return None
    return InputFile(source=f"{file.source}/{wanted}", size=info.file_size,
                     open=partial(_open_member, archive, info, budget, limits), depth=file.depth + 1, budget=budget,
                     sibling=partial(_member_sibling, archive, file, budget, limits, wanted))


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ArchiveBudget, limits) -> io.BufferedReader:
    try:
        inner = archive.open(info)
    except RuntimeError as error:  # zipfile's way of saying "encrypted"
        raise SkippedFile(f"is password-protected ({error}); unpack it yourself and import the files") from None
    except NotImplementedError as error:
        raise SkippedFile(f"uses a compression method that cannot be read ({error}); re-zip it with deflate") from None
    except (zipfile.BadZipFile, zlib.error, OSError) as error:
        raise SkippedFile(f"is corrupt inside the archive ({error}); create the archive again") from None
    return io.BufferedReader(_CountingReader(inner, budget, limits.max_file_bytes), buffer_size=256 * 1024)


class _CountingReader(io.RawIOBase):
    """A member stream that counts what it decompresses, against the member and the archive limits."""

    def __init__(self, inner, budget: ArchiveBudget, max_member_bytes: int):
        self._inner = inner
        self._budget = budget
        self._max_member_bytes = max_member_bytes
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._inner.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise SkippedFile(f"is corrupt inside the archive ({error}); create the archive again") from None
        count = len(data)
        self._read += count
        if self._read > self._max_member_bytes:
            raise SkippedFile(
                f"unpacks to more than the {format_bytes(self._max_member_bytes)} limit for one file, "
                "more than it declares; the archive is damaged or crafted"
            )
        self._budget.take_bytes(count)
        buffer[:count] = data
        return count

    def close(self) -> None:
        self._inner.close()
        super().close()
