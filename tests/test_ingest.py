"""ftstudio.ingest: every source format, built here as tiny files, read through the public API."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from ftstudio.config import IngestLimits
from ftstudio.ingest import SUPPORTED_SUFFIXES, guess_mapping, inspect_columns, iter_records
from ftstudio.ingest.records import ColumnMapping, FileError, RawRecord

LIMITS = IngestLimits()


def read(*paths: Path, limits: IngestLimits = LIMITS, mapping: ColumnMapping | None = None):
    """(records, errors) of iter_records over the given paths."""
    items = list(iter_records(list(paths), limits, mapping))
    assert all(isinstance(item, (RawRecord, FileError)) for item in items)
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, FileError)]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def email_bytes(headers: str, body: str) -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode("utf-8")


# ------------------------------------------------------------------------------------------ emails


def test_multipart_alternative_prefers_the_plain_part(tmp_path):
    raw = email_bytes(
        """
From: Ana Okafor <ana@example.com>
To: bob@example.com
Subject: Lunch
Date: Tue, 04 Mar 2025 09:30:00 +0100
Message-ID: <m1@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="XYZ"
""",
        """This is a preamble.
--XYZ
Content-Type: text/plain; charset=utf-8

Shall we meet at noon?
--XYZ
Content-Type: text/html; charset=utf-8

<p>Shall we meet at <b>noon</b>?</p>
--XYZ--
""",
    )
    [record], errors = read(write(tmp_path / "lunch.eml", raw))
    assert not errors
    assert record.text == "Shall we meet at noon?"
    assert (record.kind, record.source, record.title) == ("email", "lunch.eml", "Lunch")
    assert record.author == "Ana Okafor <ana@example.com>"
    assert record.created_at == "2025-03-04T08:30:00+00:00"
    meta = record.metadata
    assert meta["from_address"] == "ana@example.com" and meta["to"] == "bob@example.com"
    assert meta["message_id"] == "<m1@example.com>" == meta["thread_id"]
    assert meta["attachments"] == []
    json.dumps(meta)  # storable as JSON


def test_html_only_email_becomes_readable_text(tmp_path):
    raw = email_bytes(
        """
From: news@example.com
Subject: Notice
Content-Type: text/html; charset=utf-8
""",
        "<html><head><style>p {color: red}</style></head><body><h2>Notice</h2>"
        "<p>Read <b>our</b> <a href='https://example.net/post'>latest post</a>.</p>"
        "<ul><li>one</li><li>two</li></ul><p>Step 1. done</p></body></html>",
    )
    [record], _ = read(write(tmp_path / "news.eml", raw))
    assert "<" not in record.text and "**" not in record.text and "color" not in record.text
    assert "latest post (https://example.net/post)" in record.text
    assert record.text.startswith("Notice\n\nRead our latest post")
    assert "- one" in record.text and "Step 1. done" in record.text  # no Markdown escapes left


def test_transfer_encodings_charsets_and_encoded_subject(tmp_path):
    subject = "=?utf-8?b?" + base64.b64encode("Grüße aus München".encode()).decode() + "?="
    quoted_printable = email_bytes(
        f"""
From: =?iso-8859-1?q?J=FCrgen?= <j@example.com>
Subject: {subject}
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable
""",
        "Caf=E9 au lait =E0 la gare, d=E9j=E0 vu.=\nSame line.\n",
    )
    encoded = base64.encodebytes("Grüße, die Straße ist gesperrt.".encode("utf-8")).decode()
    base64_body = email_bytes(
        """
From: x@example.com
Subject: =?utf-8?q?Stra=C3=9Fe?= gesperrt
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64
""",
        encoded,
    )
    # Declared charsets that are wrong or unknown fall back to UTF-8, then Windows-1252.
    wrong = b"Subject: wrong\nContent-Type: text/plain; charset=us-ascii\n\nna\xc3\xafve caf\xc3\xa9\n"
    unknown = b"Subject: unknown\nContent-Type: text/plain; charset=x-klingon\n\nGr\xfc\xdfe \x93quoted\x94\n"
    records, errors = read(
        write(tmp_path / "a.eml", quoted_printable),
        write(tmp_path / "b.eml", base64_body),
        write(tmp_path / "c.eml", wrong),
        write(tmp_path / "d.eml", unknown),
    )
    assert not errors
    qp, b64, c, d = records
    assert qp.title == "Grüße aus München"
    assert qp.author == "Jürgen <j@example.com>"
    assert qp.text == "Café au lait à la gare, déjà vu.Same line."
    assert b64.text == "Grüße, die Straße ist gesperrt." and b64.title == "Straße gesperrt"
    assert c.text == "naïve café"
    assert d.text == "Grüße \u201cquoted\u201d"


def test_reply_is_split_into_new_text_quote_and_signature(tmp_path):
    gmail = email_bytes(
        """
From: ana@example.com
Subject: Re: Plan
Message-ID: <c@example.com>
In-Reply-To: <b@example.com>
References: <a@example.com> <b@example.com>
""",
        """Sounds good, let's ship on Friday.

--\x20
Ana Okafor
Northwind Freight

On Mon, 3 Mar 2025 at 10:00, Bob Berg <bob@example.com>
wrote:
> Can we ship this week?
> Bob
""",
    )
    outlook = email_bytes(
        "From: ana@example.com\nSubject: RE: Plan",
        """Yes, confirmed.

Sent from my iPhone

-----Original Message-----
From: Bob Berg
Sent: Monday, March 3, 2025 10:00 AM
Subject: Plan

Can we ship this week?
""",
    )
    records, _ = read(write(tmp_path / "gmail.eml", gmail), write(tmp_path / "outlook.eml", outlook))
    meta = records[0].metadata
    assert meta["new_text"] == "Sounds good, let's ship on Friday."
    assert meta["signature"] == "Ana Okafor\nNorthwind Freight"
    assert meta["quoted_text"].startswith("On Mon, 3 Mar 2025 at 10:00, Bob Berg <bob@example.com>\nwrote:")
    assert meta["quoted_text"].endswith("> Bob")
    assert "Can we ship this week?" in records[0].text  # text keeps the whole body
    assert (meta["thread_id"], meta["in_reply_to"]) == ("<a@example.com>", "<b@example.com>")
    assert meta["references"] == ["<a@example.com>", "<b@example.com>"]
    meta = records[1].metadata
    assert meta["new_text"] == "Yes, confirmed."
    assert meta["signature"] == "Sent from my iPhone"
    assert meta["quoted_text"].startswith("-----Original Message-----") and "Can we ship" in meta["quoted_text"]


def test_attachments_are_listed_but_never_stored(tmp_path):
    secret = b"TOP-SECRET-PDF-CONTENT" * 10
    raw = email_bytes(
        """
From: ana@example.com
Subject: Invoice
Content-Type: multipart/mixed; boundary="b1"
""",
        f"""--b1
Content-Type: text/plain; charset=utf-8

Invoice attached.
--b1
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

{base64.encodebytes(secret).decode()}
--b1
Content-Type: image/png
Content-Disposition: inline; filename*=utf-8''%C3%A9t%C3%A9.png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--b1--
""",
    )
    only_attachment = email_bytes(
        'Subject: scan\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=scan.pdf\n\nxx\n--b--\n",
    )
    records, errors = read(write(tmp_path / "invoice.eml", raw), write(tmp_path / "scan.eml", only_attachment))
    [record] = records
    assert record.text == "Invoice attached."
    assert record.metadata["attachments"] == [
        {"filename": "invoice.pdf", "content_type": "application/pdf", "size": len(secret)},
        {"filename": "été.png", "content_type": "image/png", "size": 8},
    ]
    stored = json.dumps([record.text, record.title, record.metadata])
    assert "TOP-SECRET" not in stored and base64.b64encode(secret[:30]).decode()[:20] not in stored
    [error] = errors
    assert error.source == "scan.eml" and "no text body" in error.reason and "scan.pdf" in error.reason


def test_mbox_splits_messages_and_unescapes_from_lines(tmp_path):
    mbox = write(
        tmp_path / "inbox.mbox",
        "From ana@example.com Mon Mar  3 10:00:00 2025\n"
        "From: ana@example.com\nSubject: one\nMessage-ID: <1@x>\n\nFirst body.\n>From the start, it worked.\n"
        ">>From quoted twice.\n\n"
        "From bob@example.com Mon Mar  3 11:00:00 2025\r\n"
        "From: bob@example.com\r\nSubject: two\r\n\r\nSecond body,\r\nwith CRLF lines.\r\n\r\n"
        "From MAILER-DAEMON Mon Mar  3 12:00:00 2025\n"
        "From: =?utf-8?q?Chlo=C3=A9?= <c@example.com>\nSubject: three\nDate: not a date\n\nThird body.\n",
    )
    records, errors = read(mbox)
    assert not errors
    assert [r.source for r in records] == ["inbox.mbox#1", "inbox.mbox#2", "inbox.mbox#3"]
    assert records[0].text == "First body.\nFrom the start, it worked.\n>From quoted twice."
    assert records[1].text == "Second body,\nwith CRLF lines."
    assert records[2].author == "Chloé <c@example.com>"
    assert records[2].created_at is None and records[2].metadata["date"] == "not a date"


def test_a_file_that_is_not_an_mbox_is_reported(tmp_path):
    _, [error] = read(write(tmp_path / "x.mbox", "Subject: hi\n\nbody\n"))
    assert "not an mbox" in error.reason and ".eml" in error.reason


# -------------------------------------------------------------------------------------------- text


def test_text_files_split_on_separator_lines(tmp_path):
    posts = write(tmp_path / "posts.md", "\ufeffFirst post.\n\n---\n\n---\nSecond post,\nline two.\n--- \nThird — done.\n")
    single = write(tmp_path / "single.txt", "  Only one post here.  \n")
    legacy = write(tmp_path / "legacy.txt", "Café crème \u201cquoted\u201d".encode("cp1252"))
    blog = write(tmp_path / "blog.md", "---\ntitle: Hello\ndate: 2024-05-01\n---\nIntro.\n\n---\n\nAfter a rule.\n")
    records, errors = read(posts, single, legacy, blog)
    assert not errors
    assert [(r.source, r.text) for r in records[:5]] == [
        ("posts.md#1", "First post."),
        ("posts.md#2", "Second post,\nline two."),
        ("posts.md#3", "Third — done."),
        ("single.txt", "Only one post here."),
        ("legacy.txt", "Café crème \u201cquoted\u201d"),
    ]
    assert all(r.kind == "post" for r in records)
    # Front matter: one blog post, its '---' a horizontal rule, title and date taken from it.
    assert (records[5].title, records[5].created_at) == ("Hello", "2024-05-01T00:00:00")
    assert records[5].text == "Intro.\n\n---\n\nAfter a rule."


def test_binary_empty_unsupported_and_oversized_files_are_skipped_with_reasons(tmp_path):
    png = write(tmp_path / "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    noisy = write(tmp_path / "noise.md", bytes(range(1, 32)) * 50)
    empty = write(tmp_path / "empty.csv", b"")
    blank = write(tmp_path / "blank.txt", "\n---\n  \n")
    slides = write(tmp_path / "slides.pptx", b"PK")
    big = write(tmp_path / "big.txt", "word " * 500)
    good = write(tmp_path / "good.txt", "Still imported.")
    limits = replace(LIMITS, max_file_bytes=2000)
    records, errors = read(png, noisy, empty, blank, slides, big, good, limits=limits)
    assert [r.text for r in records] == ["Still imported."]
    reasons = {e.source: e.reason for e in errors}
    assert "binary" in reasons["photo.txt"] and "NUL" in reasons["photo.txt"]
    assert "binary" in reasons["noise.md"]
    assert reasons["empty.csv"] == "is empty (0 bytes)"
    assert "no text" in reasons["blank.txt"]
    assert "'.pptx'" in reasons["slides.pptx"] and all(s in reasons["slides.pptx"] for s in SUPPORTED_SUFFIXES)
    assert reasons["big.txt"].startswith("2.4 KB is over the 2 KB limit") and "split" in reasons["big.txt"]


def test_text_over_max_text_chars_is_skipped_for_that_record(tmp_path):
    path = write(tmp_path / "posts.txt", "short\n---\n" + "x" * 50 + "\n---\nalso short")
    records, [error] = read(path, limits=replace(LIMITS, max_text_chars=20))
    assert [r.text for r in records] == ["short", "also short"]
    assert error.source == "posts.txt#2" and "50 characters" in error.reason


def test_folders_are_walked_in_order_skipping_hidden_files(tmp_path):
    root = tmp_path / "export"
    write(root / "b.txt", "B")
    write(root / "a" / "z.md", "Z")
    write(root / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(root / "__MACOSX" / "._b.txt", b"\x00\x05\x16\x07")
    write(root / ".git" / "config", "[core]")
    records, errors = read(root, tmp_path / "missing.txt")
    assert [r.source for r in records] == ["export/a/z.md", "export/b.txt"]
    assert [(e.source, e.reason) for e in errors] == [(str(tmp_path / "missing.txt"), "does not exist")]


# ------------------------------------------------------------------------------------------ tables


def test_csv_mapping_is_guessed_overridden_and_checked(tmp_path):
    path = write(
        tmp_path / "posts.csv",
        "Title,Body,Author,Created_At,Likes\n"
        'Hello,"First, with a comma",Ana,2024-01-02T03:04:05Z,3\n'
        "Empty,,Ben,2024-01-03,1\n"
        "Bye,Second post,Chloé,01/31/2024,7\n",
    )
    assert inspect_columns(path, LIMITS) == ["Title", "Body", "Author", "Created_At", "Likes"]
    assert guess_mapping(inspect_columns(path, LIMITS)) == ColumnMapping(
        text="Body", title="Title", author="Author", date="Created_At"
    )
    records, errors = read(path)
    assert not errors
    assert [(r.source, r.text, r.title, r.author, r.kind) for r in records] == [
        ("posts.csv#1", "First, with a comma", "Hello", "Ana", "row"),
        ("posts.csv#3", "Second post", "Bye", "Chloé", "row"),
    ]
    assert [r.created_at for r in records] == ["2024-01-02T03:04:05+00:00", "2024-01-31T00:00:00"]
    assert records[0].metadata == {"Created_At": "2024-01-02T03:04:05Z", "Likes": "3"}

    # Override one field: the title becomes the text; the guess fills the rest, without reusing Title.
    records, _ = read(path, mapping=ColumnMapping(text="title", label="Likes"))
    assert [r.text for r in records] == ["Hello", "Empty", "Bye"]
    assert records[0].title is None and records[0].metadata["label"] == "3" and records[0].metadata["Body"]

    _, [error] = read(path, mapping=ColumnMapping(text="Message"))
    assert "'Message'" in error.reason and "'Body'" in error.reason and "'Likes'" in error.reason


def test_csv_without_text_column_shows_the_pair_or_explains(tmp_path):
    pairs = write(tmp_path / "pairs.csv", "question;answer\nWhat is 2+2?;Four\n")
    numbers = write(tmp_path / "numbers.csv", "a,b\n1,2\n")
    records, [error] = read(pairs, numbers)
    [record] = records
    # The item is the whole pair, so two questions with the same answer stay two items.
    assert record.text == "What is 2+2?\n\nFour" and record.metadata == {"input": "What is 2+2?", "output": "Four"}
    assert error.source == "numbers.csv" and "no text column" in error.reason and "'a', 'b'" in error.reason


def test_linkedin_shares_csv(tmp_path):
    shares = (
        "Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\r\n"
        '2023-05-01 12:34:56,https://www.linkedin.com/feed/update/urn:li:share:1,"Excited to share ""Project X""!\r\n'
        "\r\n"
        'Line three, with a comma.",,,MEMBER_NETWORK\r\n'
        "2023-04-01 08:00:00,https://www.linkedin.com/feed/update/urn:li:share:2,,https://example.com/repost,,PUBLIC\r\n"
        '2023-03-01 08:00:00,https://www.linkedin.com/feed/update/urn:li:share:3,"Short one",https://example.com,,PUBLIC\r\n'
    )
    archive = tmp_path / "Basic_LinkedInDataExport.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Shares.csv", "\ufeff" + shares)
    records, errors = read(archive)
    assert not errors
    assert [r.source for r in records] == [
        "Basic_LinkedInDataExport.zip/Shares.csv#1",
        "Basic_LinkedInDataExport.zip/Shares.csv#3",
    ]
    first = records[0]
    assert first.text == 'Excited to share "Project X"!\n\nLine three, with a comma.'
    assert (first.kind, first.created_at) == ("post", "2023-05-01T12:34:56")
    assert first.metadata["ShareLink"].endswith("share:1") and first.metadata["Visibility"] == "MEMBER_NETWORK"


def test_jsonl_bad_line_imports_nothing_from_that_file(tmp_path):
    bad = write(tmp_path / "bad.jsonl", '{"text": "one"}\n\n{"text": "two"}\n{"text": oops}\n{"text": "four"}\n')
    good = write(tmp_path / "good.jsonl", '{"prompt": "Hi?", "completion": "Hello!", "score": 0.5}\n')
    records, [error] = read(bad, good)
    assert error.source == "bad.jsonl" and "line 4" in error.reason and "nothing" in error.reason
    [record] = records
    assert record.source == "good.jsonl#1" and record.text == "Hi?\n\nHello!"
    assert record.metadata == {"score": 0.5, "input": "Hi?", "output": "Hello!"}


def test_json_list_or_object_holding_a_list(tmp_path):
    plain = write(tmp_path / "posts.json", json.dumps([{"content": "A", "tags": ["x"]}, {"content": "B"}]))
    wrapped = write(tmp_path / "export.json", json.dumps({"version": 2, "items": [{"message": "C", "category": "q"}]}))
    broken = write(tmp_path / "broken.json", '[{"text": "A"},\n {"text": }]')
    records, [error] = read(plain, wrapped, broken)
    assert [(r.source, r.text) for r in records] == [("posts.json#1", "A"), ("posts.json#2", "B"), ("export.json#1", "C")]
    assert records[0].metadata == {"tags": ["x"]} and records[2].metadata == {"label": "q"}
    assert error.source == "broken.json" and "line 2" in error.reason


def test_parquet_rows_and_a_truncated_parquet(tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "text": ["First", None, "Third"],
            "timestamp": [dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)] * 3,
            "score": [1.5, float("nan"), None],
        }
    )
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path)
    truncated = write(tmp_path / "cut.parquet", path.read_bytes()[:-40])
    assert inspect_columns(path, LIMITS) == ["text", "timestamp", "score"]
    records, [error] = read(path, truncated)
    assert [(r.source, r.text, r.created_at) for r in records] == [
        ("rows.parquet#1", "First", "2024-01-01T12:00:00+00:00"),
        ("rows.parquet#3", "Third", "2024-01-01T12:00:00+00:00"),
    ]
    assert records[0].metadata == {"timestamp": "2024-01-01T12:00:00+00:00", "score": 1.5}
    assert records[1].metadata["score"] is None
    json.dumps([r.metadata for r in records], allow_nan=False)
    assert error.source == "cut.parquet" and "Parquet" in error.reason and "truncated" in error.reason
    with pytest.raises(ValueError, match="cut.parquet"):
        inspect_columns(truncated, LIMITS)


# ---------------------------------------------------------------------------------------- archives


def zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_zip_with_folders_nested_zips_and_junk(tmp_path):
    inner = zip_bytes({"deep/note.txt": "From the inner zip.", "inner.jsonl": '{"text": "row"}\n'})
    archive = write(
        tmp_path / "export.zip",
        zip_bytes(
            {
                "posts/2024/a.md": "Post A\n---\nPost B",
                "__MACOSX/posts/._a.md": b"\x00\x05\x16\x07",
                "posts/.hidden.txt": "secret",
                "nested/inner.zip": inner,
                "../escape.txt": "outside",
                "photo.jpg": b"\xff\xd8\xff",
            }
        ),
    )
    records, errors = read(archive)
    assert [(r.source, r.text) for r in records] == [
        ("export.zip/nested/inner.zip/deep/note.txt", "From the inner zip."),
        ("export.zip/nested/inner.zip/inner.jsonl#1", "row"),
        ("export.zip/posts/2024/a.md#1", "Post A"),
        ("export.zip/posts/2024/a.md#2", "Post B"),
    ]
    reasons = {e.source: e.reason for e in errors}
    assert set(reasons) == {"export.zip/../escape.txt", "export.zip/photo.jpg"}
    assert "outside the archive" in reasons["export.zip/../escape.txt"]


def test_zip_nesting_deeper_than_the_limit_is_refused(tmp_path):
    data = zip_bytes({"post.txt": "deep"})
    for _ in range(3):
        data = zip_bytes({"level.zip": data})
    path = write(tmp_path / "onion.zip", data)
    assert [r.text for r in read(path)[0]] == ["deep"]
    records, [error] = read(path, limits=replace(LIMITS, max_archive_depth=2))
    assert not records and "nested more than 2" in error.reason


def test_zip_bombs_are_stopped(tmp_path):
    zeros = b"\0" * 2_000_000  # compresses to about 2 KB
    bomb = write(tmp_path / "bomb.zip", zip_bytes({"a.txt": "fine", "zeros.txt": zeros}))
    limits = replace(LIMITS, max_archive_bytes=1_000_000)
    records, [error] = read(bomb, limits=limits)
    assert not records  # refused before reading anything, from the declared sizes
    assert error.source == "bomb.zip" and "over the" in error.reason and "limit" in error.reason

    # Declared sizes that lie: the member claims 100 bytes but inflates to 2 MB. Reading stops at the
    # declared size and the member is reported, never imported.
    data = bytearray(zip_bytes({"zeros.txt": zeros}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (100).to_bytes(4, "little")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    liar = write(tmp_path / "liar.zip", bytes(data))
    records, [error] = read(liar, limits=limits)
    assert not records and error.source == "liar.zip/zeros.txt" and "corrupt" in error.reason

    many = write(tmp_path / "many.zip", zip_bytes({f"{n}.txt": "x" for n in range(20)}))
    _, [error] = read(many, limits=replace(LIMITS, max_archive_members=10))
    assert "more than 10 files" in error.reason


def test_truncated_zip_is_reported_and_other_files_still_import(tmp_path):
    data = zip_bytes({"a.txt": "A post. " * 50, "b.txt": "B post."})
    truncated = write(tmp_path / "cut.zip", data[: len(data) // 2])
    good = write(tmp_path / "good.txt", "Imported anyway.")
    records, [error] = read(truncated, good)
    assert [r.text for r in records] == ["Imported anyway."]
    assert error.source == "cut.zip" and "truncated or corrupt" in error.reason


def test_inspect_columns_refuses_non_tables(tmp_path):
    with pytest.raises(ValueError, match="only table files"):
        inspect_columns(write(tmp_path / "notes.txt", "hi"), LIMITS)
    assert guess_mapping(["ShareCommentary", "Date", "Visibility"]) == ColumnMapping(text="ShareCommentary", date="Date")
    assert guess_mapping(["Prompt", "Response", "Class"]) == ColumnMapping(input="Prompt", output="Response", label="Class")
