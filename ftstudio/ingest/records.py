"""Plain records that every ingest module returns; no database access here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RawRecord:
    """One imported post, email or table row, before normalisation and dedup."""

    text: str
    """The full text: a post, or an email's whole body (new text, quoted replies and signature)."""
    source: str
    """Where it came from, relative to what the user gave: 'inbox.mbox#17', 'export.zip/Shares.csv#3'."""
    kind: str = "post"
    """'post', 'email' or 'row'."""
    title: str | None = None
    """A subject line or title, when the source has one."""
    author: str | None = None
    created_at: str | None = None
    """ISO 8601 when the source gives a parseable date, else None."""
    metadata: dict = field(default_factory=dict)
    """Format-specific extras, JSON-serialisable. Emails: from, to, cc, date, message_id,
    in_reply_to, references, thread_id, new_text, quoted_text, signature, attachments
    (list of {filename, content_type, size}); when present: labels (Gmail), warnings, forwarded
    (headers of each forwarded message), linked_message_ids, forwarded_in, forwarded_items. Tables: the other columns of the row,
    plus 'input'/'output'/'label' when the mapping names such columns."""
    size: int = 0
    """Bytes of the source this record was read from (an email's raw bytes), for progress. Not stored."""
    own_text: str | None = None
    """An email's own text, without the messages it forwards (which `text` includes). Not stored."""
    forwarded: list[RawRecord] = field(default_factory=list)
    """The messages an email forwards, as records of their own, for the 'split forwarded' import
    option. Not stored: their headers are in metadata['forwarded'], their text in `text`."""


@dataclass
class FileError:
    """A file (or archive member) that was skipped, and why, in words a user can act on."""

    source: str
    reason: str


@dataclass
class ColumnMapping:
    """Which column of a CSV/JSONL/JSON/Parquet table holds what. None means 'guess'."""

    text: str | None = None
    title: str | None = None
    author: str | None = None
    date: str | None = None
    input: str | None = None
    output: str | None = None
    label: str | None = None
