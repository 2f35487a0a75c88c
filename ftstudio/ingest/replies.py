"""Split an email body into what the sender wrote, what they quoted, and their signature.

No library in our dependencies does this (talon and mail-parser-reply are unmaintained or heavy),
so a few line rules cover the common clients: Gmail/Apple ("On ... wrote:" then '>' lines),
Outlook ("-----Original Message-----" or a "From:/Sent:" block with unprefixed quoted text),
forwarded messages, "-- " signatures and "Sent from my phone" footers.
"""

from __future__ import annotations

import re

# "On Mon, 1 Jan 2024 at 10:00, Bob <bob@example.com> wrote:" and its translations in common clients.
_ATTRIBUTION_END = re.compile(
    r"(wrote|writes|schrieb|a écrit|escribió|ha scritto|schreef|skrev|napisał|escreveu)\s*:$", re.IGNORECASE
)
_ATTRIBUTION_START = re.compile(r"(On|Am|Le|El|Il|Op|Den|Em|W dniu)\s", re.IGNORECASE)
# Markers after which everything is someone else's text, even without '>' prefixes.
_QUOTE_BLOCK = re.compile(
    r"-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}"
    r"|Begin forwarded message:",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"(From|Von|De|Da):\s", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"(Sent|Date|Gesendet|Envoyé|Enviado|Inviato):\s", re.IGNORECASE)
_MOBILE_FOOTER = re.compile(
    r"(Sent from my |Sent from Mail for |Get Outlook for |Sent from Outlook|Sent from Yahoo Mail)", re.IGNORECASE
)


def split_reply(body: str) -> tuple[str, str, str]:
    """Return (new_text, quoted_text, signature) of a plain-text body with '\\n' line ends."""
    lines = body.split("\n")
    new: list[str] = []
    quoted: list[str] = []
    signature: list[str] = []
    in_signature = False
    count = len(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            (signature if in_signature else new).append(line)
            continue
        first = stripped[0]
        if first == ">":
            quoted.append(line)
            continue
        if _starts_quote_block(lines, index, stripped, first):
            quoted.extend(lines[index:])
            break
        if stripped[-1] == ":" and _ATTRIBUTION_END.search(stripped) and _quote_follows(lines, index + 1, count):
            # Gmail wraps long attributions over two lines; the first half is then the previous line.
            previous = signature if in_signature else new
            if not _ATTRIBUTION_START.match(stripped) and previous and _ATTRIBUTION_START.match(previous[-1].strip()):
                quoted.append(previous.pop())
            quoted.append(line)
            continue
        if not in_signature:
            if line in ("-- ", "--"):  # RFC 3676 delimiter; many clients drop its trailing space
                in_signature = True
                continue
            if first in "SGsg" and _MOBILE_FOOTER.match(stripped):
                in_signature = True
        (signature if in_signature else new).append(line)
    return "\n".join(new).strip(), "\n".join(quoted).strip(), "\n".join(signature).strip()


def _starts_quote_block(lines: list[str], index: int, stripped: str, first: str) -> bool:
    """An Outlook or forward marker at this line: everything from here on is quoted."""
    if first == "-" or first == "B" or first == "b":
        return bool(_QUOTE_BLOCK.match(stripped))
    if first == "_" and len(stripped) >= 10 and stripped == "_" * len(stripped):
        # Outlook's horizontal rule, followed by a From: header block.
        return any(_OUTLOOK_FROM.match(line.strip()) for line in lines[index + 1 : index + 3])
    if first in "FfVvDd" and _OUTLOOK_FROM.match(stripped):
        return any(_OUTLOOK_SENT.match(line.strip()) for line in lines[index + 1 : index + 5])
    return False


def _quote_follows(lines: list[str], start: int, count: int) -> bool:
    """True when the next non-blank line is quoted (or there is none): guards against "he wrote:" in prose."""
    for index in range(start, count):
        stripped = lines[index].strip()
        if stripped:
            return stripped[0] == ">"
    return True
