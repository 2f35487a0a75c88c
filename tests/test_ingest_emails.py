"""Emails as mail clients show them: forwarded messages, odd but valid MIME, broken multiparts, refusals.

Every message here is made up for the test; none is a real person's mail.
"""

from __future__ import annotations

import glob
import os
import sysconfig
from pathlib import Path

import pytest

from ftstudio.importing import ImportOptions, import_paths
from ftstudio.ingest.emails import parse_email
from ftstudio.ingest.records import FileError, RawRecord


def email(headers: str, body: str) -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode("utf-8")


def parsed(raw: bytes) -> RawRecord:
    record = parse_email(raw, "test.eml")
    assert isinstance(record, RawRecord), getattr(record, "reason", record)
    return record


def refused(raw: bytes) -> str:
    error = parse_email(raw, "test.eml")
    assert isinstance(error, FileError), f"expected a refusal, got text {error.text!r}"
    return error.reason


CUSTOMER_EMAIL = """From: Dana Customer <dana@example.org>
To: support@example.com
Date: Mon, 3 Jun 2024 09:15:00 +0000
Subject: My order never arrived
Message-ID: <original-2@example.org>
In-Reply-To: <original-1@example.org>
References: <original-0@example.org> <original-1@example.org>
Content-Type: text/plain; charset=utf-8

Hello, order 1234 has not arrived after three weeks.
"""

FORWARD = f"""From: Agent Sam <sam@example.com>
To: escalations@example.com
Date: Mon, 3 Jun 2024 10:00:00 +0000
Subject: Fwd: My order never arrived
Message-ID: <forward-1@example.com>
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8

Can someone in logistics look at this one?

--outer
Content-Type: message/rfc822
Content-Disposition: attachment; filename="My order never arrived.eml"

{CUSTOMER_EMAIL}
--outer--
"""


def test_a_forwarded_message_becomes_text_with_its_headers_and_thread():
    record = parsed(FORWARD.encode())
    assert record.text.startswith("Can someone in logistics look at this one?")
    assert "---------- Forwarded message ----------" in record.text
    assert "From: Dana Customer <dana@example.org>" in record.text
    assert "Date: Mon, 3 Jun 2024 09:15:00 +0000" in record.text
    assert "Subject: My order never arrived" in record.text
    assert record.text.endswith("Hello, order 1234 has not arrived after three weeks.")
    meta = record.metadata
    assert meta["new_text"] == "Can someone in logistics look at this one?"
    [inner] = meta["forwarded"]
    assert inner["from"] == "Dana Customer <dana@example.org>" and inner["message_id"] == "<original-2@example.org>"
    assert inner["references"] == ["<original-0@example.org>", "<original-1@example.org>"]
    # The forward has no thread of its own, so it joins the thread it forwards.
    assert meta["thread_id"] == "<original-0@example.org>" == inner["thread_id"]
    assert set(meta["linked_message_ids"]) == {"<original-2@example.org>", "<original-0@example.org>",
                                               "<original-1@example.org>"}
    assert meta["attachments"] == []  # the forwarded email is text now, not an attachment


def test_a_nested_forward_keeps_both_messages_text():
    twice = f"""From: Lead <lead@example.com>
Subject: Fwd: Fwd: My order never arrived
Content-Type: message/rfc822

{FORWARD}"""
    record = parsed(twice.encode())
    assert record.text.count("---------- Forwarded message ----------") == 2
    assert "Can someone in logistics" in record.text and "order 1234 has not arrived" in record.text
    [outer] = record.metadata["forwarded"]
    assert outer["from"] == "Agent Sam <sam@example.com>"
    assert outer["forwarded"][0]["message_id"] == "<original-2@example.org>"


def test_a_digest_holds_one_message_per_part():
    digest = email(
        'From: list@example.net\nSubject: Weekly digest\nContent-Type: multipart/digest; boundary="d"',
        "--d\n\nFrom: a@example.net\nSubject: First\n\nThe first post.\n"
        "--d\n\nFrom: b@example.net\nSubject: Second\n\nThe second post.\n--d--\n",
    )
    record = parsed(digest)
    assert "The first post." in record.text and "The second post." in record.text
    assert [m["subject"] for m in record.metadata["forwarded"]] == ["First", "Second"]


def test_split_forwarded_makes_an_item_per_message_linked_back(store, project, tmp_path):
    path = tmp_path / "escalation.eml"
    path.write_text(FORWARD, encoding="utf-8")
    report = import_paths(store, project, [path], options=ImportOptions(split_forwarded=True))
    assert report.imported == 2 and not report.errors
    items = {item.title: store.get_item(item.id) for item in store.list_items(project.id).rows}
    outer, inner = items["Fwd: My order never arrived"], items["My order never arrived"]
    assert outer.text == "Can someone in logistics look at this one?"
    assert inner.text == "Hello, order 1234 has not arrived after three weeks."
    assert inner.metadata["forwarded_in"]["message_id"] == "<forward-1@example.com>"
    assert inner.metadata["forwarded_in"]["source"] == outer.source
    assert outer.metadata["forwarded_items"] == [inner.source]
    assert store.list_imports(project.id)[0].options["split_forwarded"] is True


def test_inline_text_parts_with_a_file_name_are_the_body_when_nothing_better_is_there():
    apple = email(
        'From: a@example.com\nSubject: notes\nContent-Type: multipart/mixed; boundary="b"',
        '--b\nContent-Type: text/plain; charset=us-ascii\nContent-Disposition: inline; filename="notes.txt"\n\n'
        "Meeting notes from Tuesday.\n--b\nContent-Type: image/png; name=chart.png\n\nxx\n--b--\n",
    )
    record = parsed(apple)
    assert record.text == "Meeting notes from Tuesday."
    assert [a["filename"] for a in record.metadata["attachments"]] == ["chart.png"]

    with_body = email(
        'From: a@example.com\nSubject: notes\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nSee the notes attached.\n"
        '--b\nContent-Type: text/plain; name="notes.txt"\n\nMeeting notes from Tuesday.\n--b--\n',
    )
    record = parsed(with_body)
    assert record.text == "See the notes attached."  # a real body wins; the named part stays an attachment
    assert [a["filename"] for a in record.metadata["attachments"]] == ["notes.txt"]


def test_text_parts_of_any_subtype_count_as_body():
    record = parsed(email("From: a@example.com\nContent-Type: text/x-markdown", "# Plan\n\nShip on Friday."))
    assert record.text == "# Plan\n\nShip on Friday."
    enriched = email(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/enriched\n\nHello from <bold>enriched</bold> text.\n--b--\n",
    )
    assert "Hello from" in parsed(enriched).text


def test_a_wrong_boundary_is_guessed_and_warned_about():
    raw = email(
        "From: a@example.com\nSubject: parts\nContent-Type: multipart/mixed; boundary=DECLARED",
        "--ACTUAL\nContent-Type: text/plain\n\nfirst part\n--ACTUAL\nContent-Type: text/plain\n\nsecond part\n--ACTUAL--\n",
    )
    record = parsed(raw)
    assert record.text == "first part\n\nsecond part"
    [warning] = record.metadata["warnings"]
    assert "'DECLARED'" in warning and "'ACTUAL'" in warning


def test_a_multipart_without_parts_falls_back_to_its_raw_text_with_a_warning():
    raw = email("From: a@example.com\nSubject: lost boundary\nContent-Type: multipart/alternative;",
                "The client lost the boundary, but this is still the text.\n")
    record = parsed(raw)
    assert record.text == "The client lost the boundary, but this is still the text."
    [warning] = record.metadata["warnings"]
    assert "multipart structure is broken" in warning and "raw text" in warning


def test_refusals_name_what_the_message_held():
    assert refused(email("From: a@example.com\nSubject: empty", "\n\n")) == "has no text body (the body is empty)"
    all_empty = email(
        'From: a@example.com\nContent-Type: multipart/alternative; boundary="b"',
        "--b\nContent-Type: text/plain\n\n\n--b\nContent-Type: text/html\n\n\n--b--\n",
    )
    assert refused(all_empty) == "has no text body (2 text parts, all empty (text/html, text/plain))"
    only_binary = email(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=scan.pdf\n\nxx\n"
        "--b\nContent-Type: image/jpeg\n\nyy\n--b--\n",
    )
    assert refused(only_binary) == "has no text body (only attachments: scan.pdf, image/jpeg)"
    forwards_nothing = email("From: a@example.com\nSubject: Fwd: blank\nContent-Type: message/rfc822",
                             "From: b@example.com\nSubject: blank\n\n")
    assert refused(forwards_nothing) == (
        "has no text body (it forwards a message 'blank', which has none either: the body is empty)")
    markup_only = email("From: a@example.com\nContent-Type: text/html", "<html><body></body></html>")
    assert refused(markup_only) == "has no text body (its only text part is HTML markup without text)"
    assert parse_email(b"  \n", "blank.eml").reason == "is an empty email"


def test_refusal_reasons_are_shown_in_the_import_report(store, project, tmp_path):
    (tmp_path / "scan.eml").write_bytes(email(
        'Subject: scan\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=scan.pdf\n\nxx\n--b--\n"))
    report = import_paths(store, project, [tmp_path / "scan.eml"])
    assert report.imported == 0
    assert [(e.source, e.reason) for e in report.errors] == [("scan.eml", "has no text body (only attachments: scan.pdf)")]


def test_gmail_takeout_labels_go_into_metadata():
    raw = email('From: a@example.com\nX-Gmail-Labels: Inbox,Important,"Clients, 2024",Opened', "Body text.")
    assert parsed(raw).metadata["labels"] == ["Inbox", "Important", "Clients, 2024", "Opened"]


def _cpython_email_messages() -> list[str]:
    """CPython's own odd-but-real email test messages, from the `test` package of this Python or another."""
    roots = [sysconfig.get_paths()["stdlib"], "/usr/lib/python3*", os.path.expanduser("~/.pyenv/versions/*/lib/python3*")]
    for root in roots:
        found = sorted(glob.glob(os.path.join(root, "test", "test_email", "data", "msg_*.txt")))
        if found:
            return found
    return []


@pytest.mark.skipif(not _cpython_email_messages(), reason="no CPython test package with its email test data here")
def test_cpython_email_test_messages_import_with_their_text():
    results = {Path(path).name: parse_email(Path(path).read_bytes(), Path(path).name) for path in _cpython_email_messages()}
    imported = [name for name, r in results.items() if isinstance(r, RawRecord)]
    refused_reasons = {name: r.reason for name, r in results.items() if isinstance(r, FileError)}
    assert len(results) == 48
    assert len(imported) >= 40, refused_reasons
    # Every refusal is for a message that truly has no text, and says what it held instead.
    assert all(reason.startswith("has no text body (") for reason in refused_reasons.values()), refused_reasons
    assert all("could not be parsed" not in reason for reason in refused_reasons.values())


# ------------------------------------------------------------------------------------------ Outlook .msg


def test_outlook_msg_imports_like_an_eml(tmp_path):
    from datetime import datetime, timezone

    from ftstudio.config import IngestLimits
    from ftstudio.ingest import iter_records
    from tests.outlook_fixture import msg_file

    data = msg_file(
        {0x0037: "Quarterly numbers", 0x1000: "Hello team,\r\n\r\nthe numbers are in.\r\n\r\n-- \r\nPat",
         0x0C1A: "Pat Example", 0x5D01: "pat@example.com", 0x0E04: "Team", 0x1035: "<q1@example.com>"},
        submit_time=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
        attachments=[{"filename": "numbers.xlsx", "mime": "application/vnd.ms-excel", "data": b"PK" * 50}],
        embedded=[{"properties": {0x0037: "Budget request", 0x1000: "Can we have more budget?",
                                  0x0C1A: "Kim Example", 0x5D01: "kim@example.com", 0x1035: "<b1@example.com>"}}],
    )
    (tmp_path / "numbers.msg").write_bytes(data)
    [record] = list(iter_records([tmp_path / "numbers.msg"], IngestLimits()))
    assert isinstance(record, RawRecord), record
    assert record.kind == "email" and record.title == "Quarterly numbers"
    assert record.author == "Pat Example <pat@example.com>"
    assert record.created_at.startswith("2024-05-01T12:00:00")
    assert record.text.startswith("Hello team,\n\nthe numbers are in.")
    assert "Subject: Budget request" in record.text and record.text.endswith("Can we have more budget?")
    meta = record.metadata
    assert meta["new_text"] == "Hello team,\n\nthe numbers are in." and meta["signature"].startswith("Pat")
    assert meta["message_id"] == "<q1@example.com>" and meta["to"] == "Team"
    assert meta["attachments"] == [{"filename": "numbers.xlsx", "content_type": "application/vnd.ms-excel", "size": 100}]
    assert meta["forwarded"][0]["from"] == "Kim Example <kim@example.com>"
    assert meta["thread_id"] == "<b1@example.com>"  # a forward joins the thread of what it forwards


def test_outlook_msg_with_an_html_body_and_the_refusals(tmp_path):
    from ftstudio.ingest.outlook import parse_msg
    from tests.outlook_fixture import msg_file, write_compound_file

    html = msg_file({0x0037: "Hi", 0x1013: b"<p>Hello <b>there</b></p><ul><li>one</li></ul>"})
    assert parse_msg(html, "h.msg").text == "Hello there\n\n  - one"
    only_attachment = msg_file({0x0037: "Scan"}, attachments=[{"filename": "scan.pdf", "mime": "application/pdf",
                                                                "data": b"%PDF"}])
    assert parse_msg(only_attachment, "s.msg").reason == "has no text body (only attachments: scan.pdf)"
    rtf_only = msg_file({0x0037: "Old", 0x1009: b"LZFu..."})
    assert "only an RTF body" in parse_msg(rtf_only, "r.msg").reason
    assert "not an Outlook .msg file" in parse_msg(b"From: a@example.com\n\nhello", "t.msg").reason
    assert "not an Outlook message" in parse_msg(write_compound_file({"WordDocument": b"x" * 10}), "d.msg").reason


def test_an_mbox_larger_than_max_file_bytes_streams_and_only_an_oversized_email_is_refused(tmp_path):
    from dataclasses import replace

    from ftstudio.config import IngestLimits
    from ftstudio.ingest import iter_records

    small = "From a@example.com Mon Jan  1 00:00:00 2024\nFrom: a@example.com\nSubject: s{n}\n\nShort note {n}.\n"
    huge = "From b@example.com Mon Jan  1 00:00:00 2024\nFrom: b@example.com\nSubject: big\n\n" + "x" * 5000 + "\n"
    mbox = tmp_path / "archive.mbox"
    mbox.write_text(small.format(n=1) + huge + small.format(n=2) + small.format(n=3))
    limits = replace(IngestLimits(), max_file_bytes=2000)  # the file is 5 KB: over the limit as a whole
    items = list(iter_records([mbox], limits))
    assert [i.text for i in items if isinstance(i, RawRecord)] == ["Short note 1.", "Short note 2.", "Short note 3."]
    [error] = [i for i in items if isinstance(i, FileError)]
    assert error.source == "archive.mbox#2" and "is one email of more than 2 KB" in error.reason


def test_the_label_tab_context_shows_gmail_labels_and_import_warnings():
    from types import SimpleNamespace

    from ftstudio.labeling import item_context

    raw = email('From: a@example.com\nSubject: lost\nX-Gmail-Labels: Inbox,Clients\nContent-Type: multipart/mixed;',
                "Raw text of a broken message.")
    record = parsed(raw)
    item = SimpleNamespace(kind="email", title=record.title, metadata=record.metadata)
    context = item_context(item)
    assert "Gmail labels: Inbox, Clients" in context
    assert "Import note: its multipart structure is broken" in context
