"""Split raw email bytes into a tree of MIME parts, quickly.

Why by hand: the stdlib FeedParser walks every body line in Python and, with Message's header
lookups re-parsing Content-Type on every call, spent about 300 us on a typical email, which capped
a mailbox import near 3,000 emails/s. Here the header block, the Content-Type parameters and the
multipart boundaries are found with str.find and one regex. Leaf parts are still compat32
`email.message.Message` objects, so transfer encodings (base64, quoted-printable, uuencode) and
filenames are decoded by the stdlib. Anything unusual (a malformed header line, RFC 2231
parameters) is handed to the stdlib, which copes with every defect it knows. A multipart whose
boundary matches nothing stays a leaf with its raw body, for recover_multipart() to split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value

# Immutable after construction: each parsebytes() call builds its own FeedParser.
_STDLIB_PARSER = BytesParser(policy=compat32)
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_PARAMETER = re.compile(r';\s*([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_LEAF_HEADERS = {"content-type", "content-transfer-encoding", "content-disposition"}
# '--token' or '--token--' alone on a line, the token with a letter or digit (not a rule of dashes).
_DELIMITER_LINE = re.compile(r"^--([^\s]*?[A-Za-z0-9][^\s]*?)(--)?[ \t]*\r?$", re.MULTILINE)
_MAX_DEPTH = 20  # multipart nesting deeper than this is pathological: let the stdlib deal with it


class _UseStdlib(Exception):
    """Something the fast path does not handle; the stdlib parser reads the whole email instead."""


@dataclass
class MimePart:
    """One entity of an email: its headers, its type, and either sub-parts or a leaf Message."""

    headers: dict[str, object]
    """Lower-case name -> first value, undecoded (a str, or an email.header.Header for 8-bit bytes)."""
    content_type: str
    params: dict[str, str]
    """Content-Type parameters (charset, boundary, name), lower-case names, unquoted values."""
    message: Message | None = None
    """For leaf parts: a compat32 Message whose get_payload(decode=True) gives the content bytes."""
    parts: list[MimePart] = field(default_factory=list)
    """Sub-parts of multipart/*, or the one enclosed email of message/rfc822."""
    size: int = 0
    """Length of the (still encoded) body, for listing attached emails."""


def parse_message(raw: bytes) -> MimePart:
    """The MIME tree of one email."""
    if raw.startswith(b"From "):  # an mbox 'From ' line left at the top of an .eml file
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    # Same decoding as BytesParser: 8-bit bytes survive as surrogates and are restored on decode.
    text = raw.decode("ascii", "surrogateescape")
    try:
        return _build(text, "text/plain", 0)
    except _UseStdlib:
        return _from_message(_STDLIB_PARSER.parsebytes(raw))


def header_params(value: object) -> tuple[str, dict[str, str]]:
    """('text/plain', {'charset': 'utf-8'}) from a Content-Type or Content-Disposition value."""
    if not value:
        return "", {}
    value = str(value)
    main, semicolon, rest = value.partition(";")
    if not semicolon:
        return main.strip().lower(), {}
    if "*" in rest:  # RFC 2231 continuations and charsets: the stdlib decodes them
        message = Message(policy=compat32)
        message["Content-Type"] = value
        params = message.get_params([])[1:]
        return main.strip().lower(), {name: str(collapse_rfc2231_value(item)) for name, item in params}
    params = {}
    for match in _PARAMETER.finditer(";" + rest):
        item = match.group(2).strip()
        if len(item) >= 2 and item[0] == '"' and item[-1] == '"':
            item = item[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params.setdefault(match.group(1).lower(), item)
    return main.strip().lower(), params


def _build(text: str, default_type: str, depth: int) -> MimePart:
    if depth > _MAX_DEPTH:
        raise _UseStdlib
    head, body = _split_head(text)
    fields = _header_fields(head) if head else []
    headers: dict[str, object] = {}
    for name, value in fields:
        headers.setdefault(name.lower(), value)
    content_type, params = header_params(headers.get("content-type"))
    if content_type.count("/") != 1:
        # As Message.get_content_type: missing -> the default, invalid -> text/plain.
        content_type = default_type if not content_type else "text/plain"
    part = MimePart(headers=headers, content_type=content_type, params=params, size=len(body))
    if content_type.startswith("multipart/"):
        boundary = params.get("boundary")
        chunks = _split_multipart(body, boundary) if boundary else None
        if chunks is not None:
            part.parts = _build_parts(chunks, content_type, depth)
            return part
        # No boundary, or one that matches no line: kept as a leaf holding the raw body, which
        # recover_multipart() can split with a guessed boundary (the stdlib would keep it raw too).
    if content_type == "message/rfc822":
        part.parts = [_build(body, "text/plain", depth + 1)]
    else:
        # Only the headers that payload decoding and get_filename() read: setting all of them cost
        # more than the rest of the leaf's handling.
        message = Message(policy=compat32)
        for name, value in fields:
            if name.lower() in _LEAF_HEADERS:
                message[name] = value
        message.set_payload(body)
        part.message = message
    return part


def _build_parts(chunks: list[str], content_type: str, depth: int) -> list[MimePart]:
    default = "message/rfc822" if content_type == "multipart/digest" else "text/plain"
    return [_build(chunk, default, depth + 1) for chunk in chunks]


def recover_multipart(part: MimePart) -> MimePart | None:
    """The parts of a multipart whose declared boundary is missing or wrong, split at the boundary its
    body actually uses; None when the body has no delimiter lines (then it is raw text).

    A candidate is a '--token' line seen at least twice (or once closed with '--'), so that a line of
    dashes in ordinary text is not taken for a boundary.
    """
    if part.message is None:
        return None
    body = part.message.get_payload()
    if not isinstance(body, str):
        return None
    seen: dict[str, int] = {}
    for match in _DELIMITER_LINE.finditer(body):
        token, closing = match.group(1), match.group(2)
        seen[token] = seen.get(token, 0) + (2 if closing else 1)
    for token, count in seen.items():
        if count < 2:
            continue
        chunks = _split_multipart(body, token)
        if not chunks:
            continue
        try:
            parts = _build_parts(chunks, part.content_type, 0)
        except _UseStdlib:
            parts = [_from_message(_STDLIB_PARSER.parsebytes(chunk.encode("ascii", "surrogateescape")))
                     for chunk in chunks]
        return MimePart(headers=part.headers, content_type=part.content_type,
                        params={**part.params, "boundary": token}, parts=parts, size=part.size)
    return None


def _from_message(message: Message) -> MimePart:
    """The same tree from a stdlib-parsed Message (the slow path)."""
    headers: dict[str, object] = {}
    for name, value in message.items():
        headers.setdefault(name.lower(), value)
    params = {name.lower(): str(collapse_rfc2231_value(value)) for name, value in message.get_params([])[1:]}
    part = MimePart(headers=headers, content_type=message.get_content_type(), params=params)
    payload = message.get_payload()
    if isinstance(payload, list) and (part.content_type.startswith("multipart/") or part.content_type == "message/rfc822"):
        part.parts = [_from_message(item) for item in payload]
        part.size = sum(len(item.as_bytes()) for item in payload) if part.content_type == "message/rfc822" else 0
    else:
        # Including message/delivery-status and message/external-body, which the stdlib splits
        # into header blocks: they are listed as attachments, like the fast path does.
        part.message = message
        part.size = len(payload) if isinstance(payload, str) else 0
    return part


def _split_head(text: str) -> tuple[str, str]:
    """(header block, body), split at the first empty line; LF, CRLF or a mix."""
    if text.startswith("\n"):
        return "", text[1:]
    if text.startswith("\r\n"):
        return "", text[2:]
    lf = text.find("\n\n")
    crlf = text.find("\n\r\n")
    if lf < 0 and crlf < 0:
        return text, ""
    if crlf < 0 or 0 <= lf < crlf:
        return text[:lf], text[lf + 2 :]
    return text[:crlf], text[crlf + 3 :]


def _header_fields(head: str) -> list[tuple[str, str]]:
    """(name, value) pairs, folds kept as compat32 keeps them; _UseStdlib on a line that is no header."""
    fields: list[list[str]] = []
    for line in head.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line[:1] in (" ", "\t"):
            if not fields:
                raise _UseStdlib
            fields[-1][1] += "\n" + line
            continue
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise _UseStdlib
        fields.append([name, value.lstrip(" \t")])
    return [(name, value) for name, value in fields]


def _split_multipart(body: str, boundary: str) -> list[str] | None:
    """The parts between '--boundary' lines (RFC 2046), without preamble and epilogue; None if none."""
    marker = "--" + boundary
    parts: list[str] = []
    start = None  # where the current part began
    position = 0
    length = len(body)
    while True:
        index = body.find(marker, position)
        if index < 0:
            break
        position = index + 1
        if index and body[index - 1] != "\n":
            continue  # not at the start of a line
        after = index + len(marker)
        closing = body.startswith("--", after)
        if closing:
            after += 2
        line_end = body.find("\n", after)
        if line_end < 0:
            line_end = length
        if body[after:line_end].strip():
            continue  # a longer boundary that starts like ours
        if start is not None and index > start:  # consecutive delimiters enclose no part
            end = index - 1  # the line break before a delimiter belongs to it
            if end > start and body[end - 1] == "\r":
                end -= 1
            parts.append(body[start:end])
        if closing:
            return parts
        start = position = line_end + 1
    if start is None:
        return None
    parts.append(body[start:])  # no closing delimiter: the stdlib also keeps the last part
    return parts
