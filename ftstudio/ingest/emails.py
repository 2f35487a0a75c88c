"""Read .eml files and .mbox mailboxes into one RawRecord per email.

Speed matters here (a 20,000-email mailbox is a normal import): messages are split by mime.py, and
RFC 2047 headers are decoded with `email.header.decode_header` only when a header holds an encoded
word. `policy.default` was measured about 20x slower than compat32, because its header registry
parses every address and date into objects we do not need.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.header import Header, decode_header
from typing import BinaryIO

from .dates import parse_email_date
from .files import InputFile, SkippedFile
from .html_text import html_to_text
from .mime import MimePart, header_params, parse_message
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
# The address in 'Name <address>' or a bare 'address'; email.utils.parseaddr is 10x slower and we
# only need the address to recognise the user's own emails.
_ADDRESS = re.compile(r"<([^<>\s@]+@[^<>\s]+)>|([^\s<>,;:\"']+@[^\s<>,;:\"']+)")


def read_eml(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """One email from an .eml file."""
    yield parse_email(file.read_bytes(), file.source)


def read_mbox(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """Every email of an mbox file, streamed: one message's bytes in memory at a time."""
    with file.open() as stream:
        for number, raw in enumerate(split_mbox(stream), start=1):
            yield parse_email(raw, f"{file.source}#{number}")


def split_mbox(stream: BinaryIO) -> Iterator[bytes]:
    """The raw bytes of each message of an mbox stream, with '>From ' escapes undone.

    Written by hand rather than with mailbox.mbox because that class needs a seekable file on disk
    (we also read mboxes inside zips) and builds a table of contents first; splitting lines as we
    read is one pass. Like mailbox.mbox, any line starting with 'From ' begins a message: writers
    escape such lines in bodies as '>From ' (mboxo/mboxrd), and we remove one '>' (mboxrd rule).
    """
    lines: list[bytes] = []
    started = False
    for line in stream:
        if line.startswith(b"From "):
            if lines:
                yield b"".join(lines)
            lines = []
            started = True
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
        lines.append(line)
    if lines:
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
    root = parse_message(raw)
    plain: list[str] = []
    html: list[str] = []
    attachments: list[dict] = []
    _collect_parts(root, plain, html, attachments)
    if any(not text.isspace() for text in plain if text):  # an empty plain part next to HTML is no body
        body = "\n\n".join(plain)
    else:
        body = "\n\n".join(html_to_text(part) for part in html)
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\x00" in body:  # NUL bytes are never text, and some databases refuse them
        body = body.replace("\x00", "").strip()
    if not body:
        names = ", ".join(a["filename"] or a["content_type"] for a in attachments)
        return FileError(source, "has no text body" + (f" (only attachments: {names})" if names else ""))
    new_text, quoted_text, signature = split_reply(body)

    headers = root.headers
    subject = header_text(headers.get("subject"))
    sender = header_text(headers.get("from"))
    date = header_text(headers.get("date"))
    message_id = _first_id(headers.get("message-id"))
    in_reply_to = _first_id(headers.get("in-reply-to"))
    references = _MESSAGE_ID.findall(header_text(headers.get("references")) or "")
    address = _ADDRESS.search(sender or "")
    metadata = {
        "from": sender,
        "from_address": (address.group(1) or address.group(2)).lower() if address else None,
        "to": header_text(headers.get("to")),
        "cc": header_text(headers.get("cc")),
        "date": date,
        "message_id": message_id,
        "in_reply_to": in_reply_to,
        "references": references,
        "thread_id": references[0] if references else in_reply_to or message_id,
        "new_text": new_text,
        "quoted_text": quoted_text,
        "signature": signature,
        "attachments": attachments,
    }
    return RawRecord(
        text=body,
        source=source,
        kind="email",
        title=subject or None,
        author=sender or None,
        created_at=parse_email_date(date),
        metadata=metadata,
    )


def _collect_parts(part: MimePart, plain: list[str], html: list[str], attachments: list[dict]) -> None:
    """Walk the MIME tree: inline text/plain and text/html bodies, and a listing of everything else."""
    content_type = part.content_type
    if content_type == "message/rfc822":
        # A forwarded email attached whole is someone else's text: list it, do not import its body.
        subject = header_text(part.parts[0].headers.get("subject")) if part.parts else None
        attachments.append(
            {
                "filename": _filename(part) or (f"{subject}.eml" if subject else None),
                "content_type": content_type,
                "size": part.size,
            }
        )
        return
    if part.message is None:  # multipart/*
        for sub_part in part.parts:
            _collect_parts(sub_part, plain, html, attachments)
        return
    if content_type.startswith("multipart/"):
        return  # a multipart whose parts could not be found (no boundary): raw MIME, not text
    disposition = part.headers.get("content-disposition")
    is_attachment = disposition is not None and str(disposition).split(";", 1)[0].strip().lower() == "attachment"
    filename = _filename(part)
    payload = part.message.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = b""
    if is_attachment or filename or content_type not in ("text/plain", "text/html"):
        # Only the size is kept: attachment content never leaves this function.
        attachments.append({"filename": filename, "content_type": content_type, "size": len(payload)})
        return
    text = decode_bytes(payload, part.params.get("charset", "").strip().lower() or None)
    (plain if content_type == "text/plain" else html).append(text)


def _filename(part: MimePart) -> str | None:
    """The attachment's name from Content-Disposition's filename or Content-Type's name."""
    disposition = part.headers.get("content-disposition")
    name = header_params(disposition)[1].get("filename") if disposition else None
    name = name or part.params.get("name")
    return header_text(name) if name else None


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
