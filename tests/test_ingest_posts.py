"""Platform post exports: X archive, Substack, WordPress, Medium. Fixtures in tests/fixtures/exports are
made up for the tests (no real person's posts)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from ftstudio.config import IngestLimits
from ftstudio.importing import import_paths
from ftstudio.ingest import iter_records
from ftstudio.ingest.records import FileError, RawRecord

EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"


def read(*paths: Path):
    items = list(iter_records(list(paths), IngestLimits()))
    records = {item.source: item for item in items if isinstance(item, RawRecord)}
    errors = {item.source: item.reason for item in items if isinstance(item, FileError)}
    return records, errors


def test_x_archive_tells_tweets_replies_and_retweets_apart_and_joins_threads(tmp_path):
    archive = tmp_path / "x_archive"
    shutil.copytree(EXPORTS / "x_archive", archive)
    (archive / "assets" / "js").mkdir(parents=True)
    (archive / "assets" / "js" / "viewer.js").write_text("var viewer = 1;")
    (archive / "Your archive.html").write_text("<html><title>Your archive</title><body>Open me</body></html>")
    records, errors = read(archive)
    # account.js, like.js and the archive's own viewer are part of the archive, not posts: passed over quietly
    assert errors == {}
    thread = records["x_archive/data/tweets.js#2001"]
    assert thread.text == (
        "Three things I learned shipping a data tool this year & why they matter 🧵\n\n"
        "1. Import is the product. If the data does not come in, nothing else matters.\n\n"
        "2. Measure before optimising: https://example.com/measure"
    )
    assert thread.metadata | {} == {
        "platform": "x", "type": "thread", "url": "https://x.com/sample_writer/status/2001",
        "likes": 185, "reposts": 37, "tweet_ids": ["2001", "2002", "2003"], "lang": "en",
    }
    assert thread.author == "@sample_writer" and thread.created_at == "2024-03-04T09:00:00+00:00"
    reply = records["x_archive/data/tweets.js#2010"]
    assert reply.metadata["type"] == "reply" and reply.metadata["in_reply_to"] == "@someone_else"
    retweet = records["x_archive/data/tweets.js#2020"]
    assert retweet.metadata["type"] == "retweet" and retweet.author == "@someone_else"
    assert retweet.metadata["retweeted_by"] == "@sample_writer"
    assert len(records) == 3


def test_a_javascript_file_that_is_no_x_archive_is_refused_with_a_reason(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "app.js").write_text("console.log('hi')")
    (tmp_path / "not-x").mkdir()
    (tmp_path / "not-x" / "tweets.js").write_text("var x = 1;")
    _, errors = read(tmp_path / "site" / "app.js", tmp_path / "not-x" / "tweets.js")
    assert "only tweets.js of an X archive holds posts" in errors["app.js"]
    assert "does not start with 'window.YTD.'" in errors["tweets.js"]


def test_substack_export_joins_posts_csv_with_its_html_and_counts_opens(tmp_path):
    zipped = tmp_path / "substack-export.zip"
    with zipfile.ZipFile(zipped, "w") as archive:  # the export arrives as a zip: read it from inside
        for path in sorted((EXPORTS / "substack").rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(EXPORTS / "substack").as_posix())
    records, errors = read(zipped)
    first = records["substack-export.zip/posts/101.first-issue.html"]
    assert first.title == "First issue" and first.created_at == "2024-01-15T08:00:00+00:00"
    assert first.text == ("Welcome to the first issue. This newsletter is about tools for writers "
                          "(https://example.com/tools).\n\n  - One idea a week\n  - No spam")
    assert first.metadata["opens"] == 3 and first.metadata["delivers"] == 4
    assert first.metadata["subtitle"] == "Why I write this newsletter" and first.metadata["published"] is True
    assert records["substack-export.zip/posts/102.paid-deep-dive.html"].metadata["audience"] == "only_paid"
    assert len(records) == 2  # the HTML files are read through posts.csv, not twice
    assert errors == {
        "substack-export.zip/email_list.sample.csv":
            "skipped: the Substack subscriber list holds readers' email addresses, not posts",
        "substack-export.zip/posts.csv#4":
            "its post body posts/103.missing-body.html is not in the export; import the whole Substack export folder or zip",
    }
    stored = repr([(r.text, r.metadata) for r in records.values()])
    assert "reader1@example.net" not in stored  # readers' addresses never become items


def test_a_substack_post_id_cannot_point_outside_the_export(tmp_path):
    export = tmp_path / "export"
    (export / "posts").mkdir(parents=True)
    (tmp_path / "secret.html").write_text("<p>not part of the export</p>")
    (export / "posts.csv").write_text("post_id,post_date,title\n../../secret,2024-01-01,Sneaky\n")
    records, errors = read(export)
    assert records == {}
    assert errors == {"export/posts.csv#2": "has a post_id that is not a Substack post id ('../../secret')"}


def test_wordpress_export_keeps_posts_and_pages_with_their_url_and_comments():
    records, errors = read(EXPORTS / "wordpress.xml")
    hello = records["wordpress.xml#11"]
    assert hello.title == "Hello & welcome" and hello.author == "sample_author"
    assert hello.text == ("This is the first paragraph of a classic-editor post.\n\n"
                          "And a second paragraph with a link (https://example.com).")
    assert hello.created_at == "2023-05-02T10:00:00+00:00"
    assert hello.metadata == {"platform": "wordpress", "type": "post", "status": "publish",
                              "url": "https://blog.example.com/2023/05/hello-welcome/", "comments": 1,
                              "categories": ["Notes"], "tags": ["writing"]}
    block = records["wordpress.xml#12"]
    assert block.text == "Written in the block editor.\n\n  - first point\n  - second point"
    assert block.metadata["status"] == "draft"
    assert set(records) == {"wordpress.xml#11", "wordpress.xml#12"}  # the attachment is no post
    assert errors == {"wordpress.xml#14": "is a WordPress page with no text"}


def test_an_xml_file_that_is_not_a_wordpress_export_is_refused(tmp_path):
    (tmp_path / "feed.xml").write_text("<?xml version='1.0'?><rss><channel></channel></rss>")
    _, errors = read(tmp_path / "feed.xml")
    assert errors["feed.xml"].startswith("skipped: an .xml file that is not a WordPress export")


def test_medium_export_post_and_a_plain_html_page(tmp_path):
    records, _ = read(EXPORTS / "medium")
    [post] = records.values()
    assert post.title == "Writing in public" and post.author == "Sample Writer"
    assert post.text == ("I wrote every week for a year. Here is what changed.\n\n  - Fewer drafts\n  - More readers"
                         "\n\nRead the archive (https://example.com/archive).")
    assert post.created_at == "2024-04-10T07:30:00+00:00"
    assert post.metadata["url"] == "https://medium.com/@sample_writer/writing-in-public-1a2b3c"
    assert post.metadata["subtitle"] == "What a year of weekly posts taught me"
    page = tmp_path / "note.html"
    page.write_text("<html><head><title>A note</title></head><body><p>Just a page.</p></body></html>")
    records, _ = read(page)
    assert (records["note.html"].title, records["note.html"].text) == ("A note", "Just a page.")


def test_posts_import_into_a_project_with_dates_and_engagement(store, project, tmp_path):
    archive = tmp_path / "twitter-2024"
    shutil.copytree(EXPORTS / "x_archive", archive)
    report = import_paths(store, project, [archive, EXPORTS / "wordpress.xml"])
    assert report.imported == 5 and report.errors[0].source == "wordpress.xml#14"
    items = [store.get_item(row.id) for row in store.list_items(project.id).rows]
    thread = next(item for item in items if item.metadata.get("type") == "thread")
    assert thread.metadata["likes"] == 185 and thread.written_at.year == 2024


def test_items_sort_and_filter_by_engagement_and_date(store, project, tmp_path):
    import pytest

    from ftstudio.store import StoreError

    shutil.copytree(EXPORTS / "x_archive", tmp_path / "archive")
    import_paths(store, project, [tmp_path / "archive", EXPORTS / "wordpress.xml"])
    by_likes = store.list_items(project.id, sort="likes").rows
    assert [row.source.rsplit("#", 1)[1] for row in by_likes[:3]] == ["2001", "2010", "2020"]  # 185, 3, 0 likes
    popular = store.list_items(project.id, at_least={"likes": 3})
    assert popular.total == 2
    oldest = store.list_items(project.id, sort="oldest").rows
    assert oldest[0].title == "Hello & welcome"  # 2023, before the 2024 tweets
    from datetime import datetime

    assert store.list_items(project.id, since=datetime(2024, 3, 5)).total == 2
    with pytest.raises(StoreError, match="Unknown sort"):
        store.list_items(project.id, sort="id; DROP TABLE items")
    with pytest.raises(StoreError, match="Unknown engagement count"):
        store.list_items(project.id, at_least={"views": 1})


def test_cli_lists_items_by_likes(tmp_path, monkeypatch):
    import json

    from ftstudio.cli import main

    monkeypatch.setenv("FTSTUDIO_HOME", str(tmp_path / "home"))
    shutil.copytree(EXPORTS / "x_archive", tmp_path / "archive")
    assert main(["import", str(tmp_path / "archive"), "--project", "tweets", "--json"]) == 0
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["items", "--project", "tweets", "--sort", "likes", "--at-least", "likes=3", "--json"]) == 0
    listing = json.loads(buffer.getvalue())
    assert listing["total"] == 2 and listing["items"][0]["source"].endswith("#2001")
    assert main(["items", "--project", "tweets", "--at-least", "likes"]) == 2
