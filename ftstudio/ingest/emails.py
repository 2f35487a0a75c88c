"""Read .eml files and .mbox mailboxes into one RawRecord per email.

Speed matters here (a 20,000-email mailbox is a normal import): messages are split by mime.py, and
RFC 2047 headers are decoded with `email.header.decode_header` only when a header holds an encoded
word. compat32 is used, not `policy.default`: the latter's header registry parses every address and
date into objects we do not need, which made it far slower (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import replace
from email.header import Header, decode_header
from typing import BinaryIO

from .dates import parse_email_date
from .files import InputFile, SkippedFile, format_bytes
from .email_body import collect_body
from .mime import MimePart, parse_message
from .records import FileError, RawRecord
from .replies import split_reply

# Labels that mail clients use but Python's codecs do not know, or know as a narrower code page.
_CHARSET_ALIASES = {
    # Mail labelled latin-1 is very often Windows-1252 (curly quotes in 0x80-0x9f); HTML5 decodes it so too.
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "x-mac-roman": "mac_roman",
    "windows-874": "cp874",
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
}
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_ESCAPED_FROM = re.compile(rb">+From ")
# The address in 'Name <address>' or a bare 'address'; email.utils.parseaddr is much slower (see
# docs/benchmarks.md) and we only need the address to recognise the user's own emails.
_ADDRESS = re.compile(r"<([^<>\s@]+@[^<>\s]+)>|([^\s<>,;:\"']+@[^\s<>,;:\"']+)")


def read_eml(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """One email from an .eml file."""
    yield parse_email(file.read_bytes(), file.source)


def read_mbox(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """Every email of an mbox file, streamed: one message's bytes in memory at a time."""
    with file.open() as stream:
        for number, raw in enumerate(split_mbox(stream, limits.max_file_bytes), start=1):
            if raw is None:
                yield FileError(f"{file.source}#{number}", f"is one email of more than "
                                f"{format_bytes(limits.max_file_bytes)} (attachments included), over the "
                                "limit for one file; raise max_file_bytes in the ingest settings to import it")
            else:
                yield parse_email(raw, f"{file.source}#{number}")


def split_mbox(stream: BinaryIO, max_message_bytes: int | None = None) -> Iterator[bytes | None]:
    """The raw bytes of each message of an mbox stream, with '>From ' escapes undone; None in place
    of a message longer than `max_message_bytes`, whose lines are dropped as they come.

    Written by hand rather than with mailbox.mbox because that class needs a seekable file on disk
    (we also read mboxes inside zips) and builds a table of contents first; splitting lines as we
    read is one pass. Like mailbox.mbox, any line starting with 'From ' begins a message: writers
    escape such lines in bodies as '>From ' (mboxo/mboxrd), and we remove one '>' (mboxrd rule).
    """
    lines: list[bytes] = []
    size = 0
    too_long = False
    started = False
    for line in stream:
        if line.startswith(b"From "):
            if too_long:
                yield None
            elif lines:
                yield b"".join(lines)
            lines = []
            size = 0
            too_long = False
            started = True
            continue
        if too_long:
            continue
        if not started:
            if not line.strip():
                continue
            raise SkippedFile(
                "is not an mbox file: it does not start with a 'From ' line. "
                "If it holds a single email, rename it to .eml"
            )
        if line[:1] == b">" and _ESCAPED_FROM.match(line):
            line = line[1:]
        size += len(line)
        if max_message_bytes is not None and size > max_message_bytes:
            too_long, lines = True, []
            continue
        lines.append(line)
    if too_long:
        yield None
    elif lines:
        yield b"".join(lines)


def parse_email(raw: bytes, source: str) -> RawRecord | FileError:
    """One RawRecord for the raw bytes of an email, or a FileError saying why it was skipped."""
    if not raw or raw.isspace():
        return FileError(source, "is an empty email")
    try:
        return _parse_email(raw, source)
    except Exception as error:  # one malformed email must not stop the rest of its mailbox
        return FileError(source, f"could not be parsed as an email ({type(error).__name__}: {error})")


def _parse_email(raw: bytes, source: str) -> RawRecord | FileError:
    record, refusal = _email_record(parse_message(raw), source)
    if refusal:
        return FileError(source, f"has no text body ({refusal})")
    record.size = len(raw)
    return record


def _email_record(root: MimePart, source: str) -> tuple[RawRecord, str | None]:
    """The record of one email and of each message it forwards (in `forwarded`), and a refusal reason
    when neither it nor anything it forwards holds text: what it held instead."""
    body = collect_body(root, decode_bytes, header_text)
    own_text = body.text()
    forwarded: list[RawRecord] = []
    refusals: list[str] = []
    for number, inner_root in enumerate(body.forwarded, start=1):
        inner, inner_refusal = _email_record(inner_root, f"{source}/forwarded-{number}")
        forwarded.append(inner)
        if inner_refusal:
            refusals.append(f"it forwards {quoted_subject(inner.title)}, which has none either: {inner_refusal}")
    blocks = [own_text] if own_text else []
    blocks += [forward_block(inner) for inner in forwarded if inner.text]
    text = "\n\n".join(blocks)
    refusal = None
    if not text:
        refusal = "; ".join(refusals) if refusals else body.nothing_to_read()
    new_text, quoted_text, signature = split_reply(text)

    headers = root.headers
    metadata = email_headers(headers)
    labels = gmail_labels(header_text(headers.get("x-gmail-labels")))
    metadata.update(new_text=new_text, quoted_text=quoted_text, signature=signature,
                    attachments=body.listed_attachments())
    link_thread(metadata, forwarded)
    if labels:
        metadata["labels"] = labels
    if body.warnings:
        metadata["warnings"] = body.warnings
    record = RawRecord(
        text=text,
        source=source,
        kind="email",
        title=metadata.pop("subject") or None,
        author=metadata["from"] or None,
        created_at=parse_email_date(metadata["date"]),
        metadata=metadata,
        own_text=own_text,
        forwarded=forwarded,
    )
    return record, refusal


def email_headers(headers: dict) -> dict:
    """The headers an item keeps, decoded: sender, recipients, date, subject and the thread's message ids."""
    sender = header_text(headers.get("from"))
    address = _ADDRESS.search(sender or "")
    return {
        "from": sender,
        "from_address": (address.group(1) or address.group(2)).lower() if address else None,
        "to": header_text(headers.get("to")),
        "cc": header_text(headers.get("cc")),
        "date": header_text(headers.get("date")),
        "subject": header_text(headers.get("subject")),
        "message_id": _first_id(headers.get("message-id")),
        "in_reply_to": _first_id(headers.get("in-reply-to")),
        "references": _MESSAGE_ID.findall(header_text(headers.get("references")) or ""),
    }


def link_thread(metadata: dict, forwarded: list[RawRecord]) -> None:
    """Set thread_id, and for a forward the headers and message ids of what it forwards.

    A forward usually starts a thread of its own: when it does, it joins the thread of what it forwards.
    """
    references = metadata["references"]
    thread_id = references[0] if references else metadata["in_reply_to"]
    if not thread_id and forwarded:
        thread_id = forwarded[0].metadata["thread_id"]
    metadata["thread_id"] = thread_id or metadata["message_id"]
    if forwarded:
        metadata["forwarded"] = [forward_headers(inner) for inner in forwarded]
        metadata["linked_message_ids"] = list(dict.fromkeys(
            m for inner in forwarded for m in (inner.metadata["message_id"], *inner.metadata["references"]) if m))


def forward_headers(inner: RawRecord) -> dict:
    """What the outer item keeps of a forwarded message: its headers and thread links, not its text."""
    keep = ("from", "to", "cc", "date", "message_id", "in_reply_to", "references", "thread_id")
    listing = {"subject": inner.title, **{key: inner.metadata.get(key) for key in keep}}
    if inner.metadata.get("forwarded"):
        listing["forwarded"] = inner.metadata["forwarded"]
    return listing


def forward_block(inner: RawRecord) -> str:
    """A forwarded message as mail clients show it: a marker line, From/Date/Subject/To, then its text."""
    lines = ["---------- Forwarded message ----------"]
    for label, value in (("From", inner.author), ("Date", inner.metadata.get("date")),
                         ("Subject", inner.title), ("To", inner.metadata.get("to"))):
        if value:
            lines.append(f"{label}: {value}")
    return "\n".join(lines) + "\n\n" + inner.text


def quoted_subject(subject: str | None) -> str:
    return f"a message '{subject}'" if subject else "a message without a subject"


def gmail_labels(value: str | None) -> list[str]:
    """The labels of Gmail Takeout's X-Gmail-Labels header: comma-separated, quoted when a label holds one."""
    if not value:
        return []
    return [label.strip() for label in next(csv.reader([value], skipinitialspace=True)) if label.strip()]


def split_forwarded(record: RawRecord) -> list[RawRecord]:
    """An email and each message it forwards as items of their own (the import option 'split forwarded').

    The outer item keeps only its own note (and is left out when it has none); each forwarded item
    links back to the email it came in ('forwarded_in') and the outer one lists them ('forwarded_items').
    """
    if not record.forwarded:
        return [record]
    items: list[RawRecord] = []
    if record.own_text:
        new_text, quoted_text, signature = split_reply(record.own_text)
        metadata = {**record.metadata, "new_text": new_text, "quoted_text": quoted_text, "signature": signature,
                    "forwarded_items": [inner.source for inner in record.forwarded if inner.text]}
        items.append(replace(record, text=record.own_text, metadata=metadata, forwarded=[]))
    back_link = {"source": record.source, "message_id": record.metadata.get("message_id"),
                 "subject": record.title, "from": record.author, "date": record.metadata.get("date")}
    for inner in record.forwarded:
        if inner.text:
            linked = replace(inner, metadata={**inner.metadata, "forwarded_in": back_link})
            items.extend(split_forwarded(linked))
    return items


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset; when it is unknown or wrong, try UTF-8, then Windows-1252."""
    if charset:
        charset = _CHARSET_ALIASES.get(charset, charset)
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def header_text(value: object) -> str | None:
    """A header as one line of readable text, with RFC 2047 encoded words and raw 8-bit bytes decoded."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.isascii():
            try:
                # Raw 8-bit bytes in a header (kept as surrogates by the parser): usually UTF-8.
                value = decode_bytes(value.encode("ascii", "surrogateescape"), None)
            except UnicodeEncodeError:
                pass  # already decoded text, such as an RFC 2231 filename
        if "=?" not in value:
            return " ".join(value.split())
    try:
        chunks = decode_header(value)
    except Exception:  # a malformed encoded word must not lose the whole email: keep the raw header
        return " ".join(str(value).split())
    text = "".join(chunk if isinstance(chunk, str) else decode_bytes(chunk, charset) for chunk, charset in chunks)
    return " ".join(text.replace("\x00", "").split())


def _first_id(value: str | Header | None) -> str | None:
    text = header_text(value)
    if not text:
        return None
    match = _MESSAGE_ID.search(text)
    return match.group(0) if match else text
