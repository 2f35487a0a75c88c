"""Read Outlook .msg files (OLE compound files of MAPI properties) into the same records as .eml.

Read with olefile (BSD licence) rather than extract-msg: extract-msg is GPL-3.0, which an Apache-2.0
project cannot take as a dependency without becoming GPL itself. A .msg keeps each property in a
stream named '__substg1.0_' + property id + type ([MS-OXMSG]), so the few properties an item needs
(subject, bodies, sender, recipients, message ids, submit time, attachments, embedded messages) are a
direct read. An RTF-only body (compressed RTF, rare in exports since Outlook 2007) is not decoded.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.parser import HeaderParser
from email.utils import format_datetime

import olefile

from .emails import decode_bytes, email_headers, forward_block, link_thread, quoted_subject
from .files import InputFile
from .html_text import html_to_text
from .records import FileError, RawRecord
from .replies import split_reply

# MAPI property ids ([MS-OXPROPS]).
_SUBJECT, _BODY, _HTML, _RTF = 0x0037, 0x1000, 0x1013, 0x1009
_SENDER_NAME, _SENDER_EMAIL, _SENDER_SMTP = 0x0C1A, 0x0C1F, 0x5D01
_DISPLAY_TO, _DISPLAY_CC = 0x0E04, 0x0E03
_MESSAGE_ID, _IN_REPLY_TO, _REFERENCES = 0x1035, 0x1042, 0x1039
_TRANSPORT_HEADERS, _INTERNET_CODEPAGE = 0x007D, 0x3FDE
_SUBMIT_TIME, _DELIVERY_TIME = 0x0039, 0x0E06
_ATTACH_DATA, _ATTACH_LONG_NAME, _ATTACH_NAME, _ATTACH_MIME = 0x3701, 0x3707, 0x3704, 0x370E
_PT_SYSTIME = 0x0040
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_MAX_EMBEDDING = 10  # forwarded-inside-forwarded deeper than this is not a real mail


def read_msg(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """One email from an Outlook .msg file."""
    yield parse_msg(file.read_bytes(), file.source)


def parse_msg(data: bytes, source: str) -> RawRecord | FileError:
    """The record of one .msg, or a FileError saying why it was skipped."""
    if not olefile.isOleFile(data=data):
        return FileError(source, "is not an Outlook .msg file (it is not an OLE compound file); "
                                 "save the email from Outlook again with 'Save as' > Outlook Message Format")
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if not ole.exists("__properties_version1.0") and not _streams(ole, []):
                return FileError(source, "is an OLE file but not an Outlook message (no MAPI properties); "
                                         "it may be another Office document renamed to .msg")
            record, refusal = _message(ole, [], source, 0)
    except Exception as error:  # one damaged file must not stop the others
        return FileError(source, f"could not be read as an Outlook message ({type(error).__name__}: {error})")
    return FileError(source, f"has no text body ({refusal})") if refusal else record


def _streams(ole: olefile.OleFileIO, prefix: list[str]) -> dict[str, list[str]]:
    """'__substg1.0_...' stream names directly under `prefix`, by name, with their full paths."""
    found = {}
    for path in ole.listdir(streams=True, storages=False):
        if len(path) == len(prefix) + 1 and path[: len(prefix)] == prefix and path[-1].startswith("__substg1.0_"):
            found[path[-1][12:].upper()] = path
    return found


def _string(ole, streams: dict, prop_id: int, codepage: str | None = None) -> str | None:
    """A string property, stored as UTF-16 (type 001F) or 8-bit (001E, in the message's code page)."""
    key = f"{prop_id:04X}"
    if key + "001F" in streams:
        text = ole.openstream(streams[key + "001F"]).read().decode("utf-16-le", errors="replace")
    elif key + "001E" in streams:
        text = decode_bytes(ole.openstream(streams[key + "001E"]).read(), codepage)
    else:
        return None
    return text.rstrip("\x00") or None


def _binary(ole, streams: dict, prop_id: int) -> bytes | None:
    path = streams.get(f"{prop_id:04X}0102")
    return ole.openstream(path).read() if path else None


def _fixed_times(ole, prefix: list[str], top_level: bool) -> dict[int, datetime]:
    """PT_SYSTIME properties from the fixed-length property stream (header: 32 bytes at the top, 24 embedded)."""
    path = prefix + ["__properties_version1.0"]
    if not ole.exists(path):
        return {}
    data = ole.openstream(path).read()
    times = {}
    for offset in range(32 if top_level else 24, len(data) - 15, 16):
        tag, _flags, value = struct.unpack_from("<IIQ", data, offset)
        if tag & 0xFFFF == _PT_SYSTIME and value:
            times[tag >> 16] = _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    return times


def _message(ole, prefix: list[str], source: str, depth: int) -> tuple[RawRecord, str | None]:
    streams = _streams(ole, prefix)
    codepage = _codepage(ole, prefix)
    headers: dict[str, object] = {}
    transport = _string(ole, streams, _TRANSPORT_HEADERS, codepage)
    if transport:  # a received message keeps its internet headers: the source of ids and the real date
        for name, value in HeaderParser().parsestr(transport).items():
            headers.setdefault(name.lower(), value)
    sender_name = _string(ole, streams, _SENDER_NAME, codepage)
    sender_address = _string(ole, streams, _SENDER_SMTP, codepage) or _string(ole, streams, _SENDER_EMAIL, codepage)
    if sender_address and "@" not in sender_address:
        sender_address = None  # an Exchange X.500 address: not one a person would recognise
    mapi = {
        "from": f"{sender_name} <{sender_address}>" if sender_name and sender_address else sender_name or sender_address,
        "to": _string(ole, streams, _DISPLAY_TO, codepage),
        "cc": _string(ole, streams, _DISPLAY_CC, codepage),
        "subject": _string(ole, streams, _SUBJECT, codepage),
        "message-id": _string(ole, streams, _MESSAGE_ID, codepage),
        "in-reply-to": _string(ole, streams, _IN_REPLY_TO, codepage),
        "references": _string(ole, streams, _REFERENCES, codepage),
    }
    times = _fixed_times(ole, prefix, top_level=depth == 0)
    moment = times.get(_SUBMIT_TIME) or times.get(_DELIVERY_TIME)
    if moment and "date" not in headers:
        mapi["date"] = format_datetime(moment)
    headers.update({name: value for name, value in mapi.items() if value})
    metadata = email_headers(headers)

    own_text = (_string(ole, streams, _BODY, codepage) or "").replace("\r\n", "\n").strip()
    html = _binary(ole, streams, _HTML)
    if not own_text and html:
        own_text = html_to_text(decode_bytes(html, codepage)).strip()
    attachments, forwarded = _attachments(ole, prefix, source, depth)
    refusals = [f"it forwards {quoted_subject(inner.title)}, which has none either: {why}"
                for inner, why in forwarded if why]
    forwarded_records = [inner for inner, _ in forwarded]
    blocks = ([own_text] if own_text else []) + [forward_block(inner) for inner in forwarded_records if inner.text]
    text = "\n\n".join(blocks).replace("\x00", "")
    refusal = None
    if not text:
        what = []
        if f"{_RTF:04X}0102" in streams:
            what.append("only an RTF body, which is not read: save the message as .eml or with a plain/HTML body")
        if attachments:
            what.append("only attachments: " + ", ".join(a["filename"] or a["content_type"] for a in attachments))
        refusal = "; ".join(refusals + what) or "the body is empty"
    new_text, quoted_text, signature = split_reply(text)
    metadata.update(new_text=new_text, quoted_text=quoted_text, signature=signature, attachments=attachments)
    link_thread(metadata, forwarded_records)
    record = RawRecord(text=text, source=source, kind="email", title=metadata.pop("subject") or None,
                       author=metadata["from"] or None, created_at=moment.isoformat() if moment else None,
                       metadata=metadata, own_text=own_text, forwarded=forwarded_records)
    return record, refusal


def _codepage(ole, prefix: list[str]) -> str | None:
    """The code page of 8-bit string properties (PR_INTERNET_CPID), as a codec name."""
    path = prefix + ["__properties_version1.0"]
    if not ole.exists(path):
        return None
    data = ole.openstream(path).read()
    for offset in range(24, len(data) - 15, 16):
        tag, _flags, value = struct.unpack_from("<IIQ", data, offset)
        if tag == (_INTERNET_CODEPAGE << 16) | 0x0003:
            return "utf-8" if value & 0xFFFFFFFF == 65001 else f"cp{value & 0xFFFFFFFF}"
    return None


def _attachments(ole, prefix: list[str], source: str, depth: int):
    """(listing of file attachments, [(record, refusal)] of embedded messages, i.e. forwarded .msg)."""
    listing, forwarded = [], []
    storages = sorted({path[len(prefix)] for path in ole.listdir(streams=True, storages=True)
                       if len(path) > len(prefix) and path[: len(prefix)] == prefix
                       and path[len(prefix)].startswith("__attach_version1.0_")})
    for storage in storages:
        here = prefix + [storage]
        embedded = here + [f"__substg1.0_{_ATTACH_DATA:04X}000D"]
        if ole.exists(embedded) and ole.get_type(embedded) == olefile.STGTY_STORAGE and depth < _MAX_EMBEDDING:
            forwarded.append(_message(ole, embedded, f"{source}/forwarded-{len(forwarded) + 1}", depth + 1))
            continue
        streams = _streams(ole, here)
        data_path = streams.get(f"{_ATTACH_DATA:04X}0102")
        listing.append({  # only the size is kept: attachment content never leaves this function
            "filename": _string(ole, streams, _ATTACH_LONG_NAME) or _string(ole, streams, _ATTACH_NAME),
            "content_type": _string(ole, streams, _ATTACH_MIME) or "application/octet-stream",
            "size": ole.get_size(data_path) if data_path else 0,
        })
    return listing, forwarded
