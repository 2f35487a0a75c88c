"""Find the text of an email in its MIME tree, the way a mail client would show it.

The order of preference, best first: inline text/plain parts; inline text/html parts (as text);
other text parts (text/plain with a file name, as Apple Mail sends body text, and text/* of any
subtype); and, when the multipart structure is broken, the raw payload with a warning. Forwarded
messages (message/rfc822 parts, also inside multipart/digest) are collected as emails of their own
for the caller to append or to split off. Attachment content never leaves this module: only its
name, type and size are listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .html_text import html_to_text
from .mime import MimePart, header_params, recover_multipart


@dataclass
class EmailBody:
    """What one email's MIME tree holds, sorted by how good a body each piece makes."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    other_text: list[tuple[str, dict]] = field(default_factory=list)
    """(text, attachment listing) of named or unusual text parts: body only when nothing better is there."""
    raw_text: list[str] = field(default_factory=list)
    """Raw payloads of multiparts whose parts could not be found."""
    attachments: list[dict] = field(default_factory=list)
    forwarded: list[MimePart] = field(default_factory=list)
    """The enclosed message of each message/rfc822 part, in the order they appear."""
    empty_text_parts: list[str] = field(default_factory=list)
    """Content types of text parts that were present but empty, for a refusal that says what was there."""
    warnings: list[str] = field(default_factory=list)
    chosen: str = ""
    """Which kind of part became the body: 'plain', 'html', 'other_text', 'raw_text', or '' for none."""

    def text(self) -> str:
        """The best body there is, with line breaks normalised; '' when there is none."""
        if any(not text.isspace() for text in self.plain if text):  # an empty plain part next to HTML is no body
            body, self.chosen = "\n\n".join(self.plain), "plain"
        elif (converted := "\n\n".join(t for t in map(html_to_text, self.html) if t)).strip():
            body, self.chosen = converted, "html"
        elif any(text.strip() for text, _ in self.other_text):
            body, self.chosen = "\n\n".join(text for text, _ in self.other_text if text.strip()), "other_text"
        elif any(text.strip() for text in self.raw_text):
            body, self.chosen = "\n\n".join(self.raw_text), "raw_text"
            self.warnings.append(
                "its multipart structure is broken (no part boundary could be found), "
                "so the raw text of the message was imported: check it for MIME headers"
            )
        else:
            body = ""
            # HTML parts that are markup only ('<html></html>') held no text either: say so in a refusal.
            self.empty_text_parts += ["text/html (markup only)"] * len(self.html)
        body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
        if "\x00" in body:  # NUL bytes are never text, and some databases refuse them
            body = body.replace("\x00", "").strip()
        return body

    def listed_attachments(self) -> list[dict]:
        """Attachments, plus the named text parts that did not become the body (call after text())."""
        if self.chosen == "other_text":
            return list(self.attachments)
        return [listing for _, listing in self.other_text] + self.attachments

    def nothing_to_read(self) -> str:
        """What the email held instead of text, for a refusal a person can check: 'the body is empty',
        '4 text parts, all empty (text/html, text/plain)', 'only attachments: scan.pdf'."""
        found = []
        if self.empty_text_parts == ["text/html (markup only)"]:
            found.append("its only text part is HTML markup without text")
        elif len(self.empty_text_parts) > 1:
            kinds = ", ".join(sorted(set(self.empty_text_parts)))
            found.append(f"{len(self.empty_text_parts)} text parts, all empty ({kinds})")
        names = [a["filename"] or a["content_type"] for a in self.attachments]
        if names:
            found.append("only attachments: " + ", ".join(names))
        return "; ".join(found) or "the body is empty"


def collect_body(root: MimePart, decode_bytes, header_text) -> EmailBody:
    """Walk the MIME tree of one email (not into forwarded messages, which are returned whole)."""
    body = EmailBody()
    _collect(root, body, decode_bytes, header_text, depth=0)
    return body


def _collect(part: MimePart, body: EmailBody, decode_bytes, header_text, depth: int) -> None:
    content_type = part.content_type
    if content_type == "message/rfc822":
        if part.parts:
            body.forwarded.append(part.parts[0])
        return
    if part.message is None:  # multipart/* with its parts found
        for sub_part in part.parts:
            _collect(sub_part, body, decode_bytes, header_text, depth + 1)
        return
    payload = part.message.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = b""
    charset = part.params.get("charset", "").strip().lower() or None
    if content_type.startswith("multipart/") or (content_type.startswith("text/") and "boundary" in part.params):
        # The boundary is missing or matches no line (or a multipart was labelled text/*): guess it
        # from the body, as mail clients do.
        recovered = recover_multipart(part)
        if recovered is not None:
            body.warnings.append(
                f"its multipart boundary {part.params.get('boundary', '(none)')!r} matched no part "
                f"of its {part.content_type} body; "
                f"the parts were found with the boundary {recovered.params['boundary']!r}"
            )
            _collect(recovered, body, decode_bytes, header_text, depth)
        elif content_type.startswith("multipart/"):
            body.raw_text.append(decode_bytes(payload, charset))
        else:
            _collect_text(part, body, payload, charset, decode_bytes, header_text)
        return
    _collect_text(part, body, payload, charset, decode_bytes, header_text)


def _collect_text(part: MimePart, body: EmailBody, payload: bytes, charset, decode_bytes, header_text) -> None:
    content_type = part.content_type
    disposition = part.headers.get("content-disposition")
    is_attachment = disposition is not None and str(disposition).split(";", 1)[0].strip().lower() == "attachment"
    filename = _filename(part, header_text)
    listing = {"filename": filename, "content_type": content_type, "size": len(payload)}
    if not content_type.startswith("text/") or is_attachment:
        body.attachments.append(listing)  # only the size is kept
        return
    text = decode_bytes(payload, charset)
    if not text.strip():
        body.empty_text_parts.append(content_type)
        return
    if filename or content_type not in ("text/plain", "text/html"):
        body.other_text.append((html_to_text(text) if content_type == "text/html" else text, listing))
    elif content_type == "text/plain":
        body.plain.append(text)
    else:
        body.html.append(text)


def _filename(part: MimePart, header_text) -> str | None:
    """The attachment's name from Content-Disposition's filename or Content-Type's name."""
    disposition = part.headers.get("content-disposition")
    name = header_params(disposition)[1].get("filename") if disposition else None
    name = name or part.params.get("name")
    return header_text(name) if name else None
