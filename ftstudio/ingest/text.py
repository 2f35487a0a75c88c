"""Read .txt and .md files: one post per file, or several separated by a line holding only '---'."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .dates import parse_date
from .files import InputFile, SkippedFile, decode_text
from .records import FileError, RawRecord

_SEPARATOR = re.compile(r"^[ \t]*---[ \t]*$", re.MULTILINE)
_FRONT_MATTER_LINE = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def read_text(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """The posts of one text or Markdown file."""
    text = decode_text(file.read_bytes()).replace("\r\n", "\n").replace("\r", "\n")
    front_matter, body = _split_front_matter(text) if file.suffix == ".md" else (None, text)
    if front_matter is not None:
        # A blog post exported with YAML front matter (Jekyll, Hugo): one post, where a '---' in the
        # body is a Markdown horizontal rule rather than a separator.
        chunks = [body.strip()] if body.strip() else []
    else:
        chunks = [chunk.strip() for chunk in _SEPARATOR.split(text)]
        chunks = [chunk for chunk in chunks if chunk]
    if not chunks:
        raise SkippedFile("has no text (only blank lines or '---' separators)")
    metadata = front_matter or {}
    for number, chunk in enumerate(chunks, start=1):
        yield RawRecord(
            text=chunk,
            source=file.source if len(chunks) == 1 else f"{file.source}#{number}",
            kind="post",
            title=metadata.get("title") or None,
            author=metadata.get("author") or None,
            created_at=parse_date(metadata.get("date")),
            metadata=dict(metadata),
        )


def _split_front_matter(text: str) -> tuple[dict | None, str]:
    """({key: value}, rest) when the file opens with a '---' block of 'key: value' lines, else (None, text).

    Read line by line rather than with a YAML parser: values stay strings, and a post that merely
    starts with '---' and a line containing a colon is not mistaken for configuration.
    """
    stripped = text.lstrip("\n")
    if not stripped.startswith("---\n"):
        return None, text
    end = _SEPARATOR.search(stripped, 4)
    if end is None:
        return None, text
    block = stripped[4 : end.start()].strip("\n")
    lines = [line for line in block.split("\n") if line.strip()]
    if not lines or not all(_FRONT_MATTER_LINE.match(line) or line.startswith((" ", "\t", "- ")) for line in lines):
        return None, text
    values = {}
    for line in lines:
        if _FRONT_MATTER_LINE.match(line):
            key, _, value = line.partition(":")
            values[key.strip().lower()] = value.strip().strip("'\"")
    if "title" not in values and "date" not in values:
        return None, text
    return values, stripped[end.end() :]
