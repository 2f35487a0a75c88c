"""Synthetic but varied emails for benchmarks: plain, multipart, HTML-only, encoded, replies, attachments."""

from __future__ import annotations

import io
import random
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timedelta, timezone
from pathlib import Path

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Lars"]
LAST = ["Okafor", "Schmidt", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Berg", "Kowalski", "Rossi"]
TOPICS = ["invoice 4{n}", "shipment NW-{n} delayed", "API key rotation", "quarterly forecast",
          "password reset request", "your parcel is on hold", "team offsite {n}", "contract renewal",
          "Ünïcödé résumé {n}", "dashboard access", "gift cards needed today", "payroll details update"]
SENTENCES = [
    "Could you confirm the delivery window for the pallets we booked last week?",
    "The forecast for the northern depots came in 12% above plan, mostly seasonal.",
    "Please find the signed copy attached; let me know if anything is missing.",
    "Your account will be suspended unless you verify your details within 24 hours.",
    "We moved the stand-up to 9:30 so the warehouse team can join.",
    "Thanks for the quick turnaround, the customer was happy with the new ETA.",
    "Can we get read-only API access for the analytics contractor until March?",
    "Click the link below to release your package: http://northwind-freiqht.example.net/track",
    "Le camion est arrivé à Lyon avec deux heures de retard à cause de la grève.",
    "I'll be out on Friday; Grace will cover the escalations queue.",
]


def _body(rng: random.Random, n: int) -> str:
    return "\n\n".join(" ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 3))) + f"\n\nRef {n}"


def make_email(rng: random.Random, n: int, start: datetime) -> EmailMessage:
    sender = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    message = EmailMessage()
    message["From"] = f"{sender} <{sender.split()[0].lower()}.{n}@example.com>"
    message["To"] = "support@northwind.example.org"
    message["Subject"] = rng.choice(TOPICS).format(n=n)
    message["Date"] = format_datetime(start + timedelta(minutes=7 * n))
    message["Message-ID"] = make_msgid(idstring=str(n), domain="example.com")
    body = _body(rng, n)
    style = n % 6
    if style == 1:  # a reply with a quoted message and a signature
        message["In-Reply-To"] = f"<root{n // 10}@example.com>"
        quoted = "\n".join("> " + line for line in _body(rng, n).splitlines())
        message.set_content(f"{body}\n\nOn Mon, 3 Mar 2025, Support wrote:\n{quoted}\n\n-- \n{sender}\nNorthwind Freight")
    elif style == 2:  # multipart/alternative
        message.set_content(body)
        message.add_alternative(f"<html><body><p>{body.replace(chr(10), '<br>')}</p></body></html>", subtype="html")
    elif style == 3:  # HTML only
        message.set_content(f"<html><body><h2>Notice</h2><p>{body}</p><a href='http://example.net'>Open</a></body></html>",
                            subtype="html")
    elif style == 4:  # latin-1, quoted-printable
        message.set_content(body + "\nÀ bientôt, déjà vu.", charset="iso-8859-1", cte="quoted-printable")
    elif style == 5:  # base64 UTF-8 with an attachment
        message.set_content(body + "\nGrüße aus München", cte="base64")
        message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename=f"invoice-{n}.pdf")
    else:
        message.set_content(body)
    return message


def write_mbox(path: Path, count: int, seed: int = 0) -> Path:
    """An mbox of `count` varied emails; about 1 in 50 is an exact duplicate of an earlier one, as in real exports.

    Written message by message, a duplicate re-read from the file itself, so that generating 160,000
    emails takes as little memory as 20,000 (mailbox.mbox kept every message and its table of contents).
    """
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 8, 0, tzinfo=timezone.utc)
    path.parent.mkdir(parents=True, exist_ok=True)
    spans: list[tuple[int, int]] = []  # (offset, length) of each message's bytes, for duplicates
    with open(path, "w+b") as out:
        for n in range(count):
            if n and n % 50 == 0:
                offset, length = spans[rng.randrange(len(spans))]
                position = out.tell()
                out.seek(offset)
                data = out.read(length)
                out.seek(position)
            else:
                data = _mbox_entry(make_email(rng, n, start))
            spans.append((out.tell(), len(data)))
            out.write(data)
    return path


def _mbox_entry(message: EmailMessage) -> bytes:
    """One message as mailbox.mbox writes it: a 'From ' line, the message with 'From ' lines escaped, a blank line."""
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=True, maxheaderlen=0).flatten(message)
    return b"From MAILER-DAEMON Wed Jan  1 08:00:00 2025\n" + buffer.getvalue().replace(b"\r\n", b"\n") + b"\n"
