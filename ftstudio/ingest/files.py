"""What every reader gets: one input file (on disk or inside a zip), and helpers to decode it."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO


class SkippedFile(Exception):
    """Raised by a reader when a whole file (or archive member) cannot be imported; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ArchiveLimitExceeded(Exception):
    """An archive (and the archives inside it) read past max_archive_bytes or max_archive_members.

    Kept apart from SkippedFile because it must stop the whole outermost archive, not one member.
    """


@dataclass
class ArchiveBudget:
    """Bytes and members still allowed for one top-level archive, shared with the zips nested in it."""

    bytes_left: int
    members_left: int
    bytes_limit: int

    def take_bytes(self, count: int) -> None:
        self.bytes_left -= count
        if self.bytes_left < 0:
            raise ArchiveLimitExceeded(
                f"stopped reading: more than {format_bytes(self.bytes_limit)} came out of it once uncompressed, "
                "more than its members declare (a damaged archive or a zip bomb); "
                "unpack it yourself and import the files you need"
            )


@dataclass
class InputFile:
    """One file to read: `open()` gives a binary stream, `source` is the name shown to the user."""

    source: str
    size: int
    open: Callable[[], BinaryIO]
    depth: int = 0
    """How many zip archives this file sits inside (0 for a file on disk)."""
    budget: ArchiveBudget | None = None
    """The byte and member allowance of the archive this file came from; None for a file on disk."""
    sibling: Callable[[str], InputFile | None] | None = None
    """Another file of the same export by a path relative to this one's folder ('posts/1.html',
    '../posts.csv'), or None when there is no such file: platform exports spread one post over files."""

    @property
    def name(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        name = self.name
        dot = name.rfind(".")
        return name[dot:].lower() if dot > 0 else ""

    def read_bytes(self) -> bytes:
        with self.open() as stream:
            return stream.read()


def format_bytes(count: int) -> str:
    """A size in words a user reads at a glance: '250.3 MB', '12 KB'."""
    if count >= 1024**2:
        return f"{count / 1024**2:.1f}".removesuffix(".0") + " MB"
    if count >= 1024:
        return f"{count / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{count} bytes"


# Control bytes other than tab, newline, carriage return, form feed and escape: text files have
# almost none, binary files (images, office documents, archives) have many.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f\x1b") + b"\x7f"
_BINARY_RATIO = 0.05


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252/latin-1 when it looks like text.

    Raises SkippedFile for binary data, so that an image renamed to .txt never becomes a "post".
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Windows Notepad's "Unicode" is UTF-16 with a BOM; its NUL bytes must not read as binary.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise SkippedFile(f"starts like UTF-16 text but is not valid UTF-16 ({error}); save it as UTF-8") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    sample = data[:65536]
    if b"\x00" in sample:
        raise SkippedFile(
            "looks like a binary file (it contains NUL bytes), not text; export it as UTF-8 text, CSV or JSON"
        )
    if sample and len(sample.translate(None, delete=_CONTROL_BYTES)) < len(sample) * (1 - _BINARY_RATIO):
        raise SkippedFile(
            "looks like a binary file (many non-printable bytes), not text; export it as UTF-8 text, CSV or JSON"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Not UTF-8 but printable: most likely a Windows or older Mac export in a Western code page.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")
