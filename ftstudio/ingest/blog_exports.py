"""Read the post exports of blogging platforms: Substack (posts.csv plus posts/<id>.html), WordPress
(WXR XML), Medium (posts/*.html) and any other HTML page, into posts with date, URL and engagement.

HTML becomes text through html_to_text (html2text): paragraphs, lists and links kept as text.
"""

from __future__ import annotations

import csv
import html
import io
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator

from .dates import parse_date, parse_email_date
from .files import InputFile, SkippedFile, decode_text
from .html_text import html_to_text
from .records import FileError, RawRecord
from .x_archive import in_x_archive

_SUBSTACK_COLUMNS = {"post_id", "post_date", "title"}
_SUBSTACK_SIDE_FILE = re.compile(r"\.(opens|delivers|clicks)\.csv$", re.IGNORECASE)
_POST_ID = re.compile(r"[\w-]+(\.[\w-]+)*")  # '123456.my-post-slug'
_MAX_COUNTED_ROWS = 10_000_000  # an opens.csv is one row per open: counted, never stored


# ------------------------------------------------------------------------------------------ Substack


def is_substack_posts_csv(file: InputFile | None) -> bool:
    """posts.csv of a Substack export: its header names post_id, post_date and title (and no body)."""
    if file is None or file.name.lower() != "posts.csv":
        return False
    with file.open() as stream:
        first_line = stream.readline(4096).decode("utf-8-sig", errors="replace")
    return _SUBSTACK_COLUMNS <= {name.strip().lower() for name in first_line.split(",")}


def substack_side_file(file: InputFile) -> str | None:
    """Why a file of a Substack export is not imported on its own, or None when it is no such file.

    posts/<id>.html is read through posts.csv; the per-post opens/delivers lists and the subscriber
    list hold readers' email addresses, which are not posts and must not become items.
    """
    if file.sibling is None:
        return None
    name = file.name.lower()
    if file.suffix in (".html", ".htm") and is_substack_posts_csv(file.sibling("../posts.csv")):
        return ""  # read as part of its row of posts.csv: nothing to say
    if _SUBSTACK_SIDE_FILE.search(name) and is_substack_posts_csv(file.sibling("../posts.csv")):
        return ""  # counted into its post's metadata
    if name.startswith("email_list") and name.endswith(".csv") and is_substack_posts_csv(file.sibling("posts.csv")):
        return "skipped: the Substack subscriber list holds readers' email addresses, not posts"
    return None


def read_substack(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """One post per row of a Substack posts.csv, its text from posts/<post_id>.html."""
    rows = csv.DictReader(io.StringIO(decode_text(file.read_bytes())))
    for number, row in enumerate(rows, start=2):
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        post_id = row.get("post_id", "")
        source = f"{file.source}#{number}"
        if not _POST_ID.fullmatch(post_id):  # it names a file: never a path out of the export's posts/ folder
            yield FileError(source, f"has a post_id that is not a Substack post id ({post_id[:80]!r})")
            continue
        page = file.sibling(f"posts/{post_id}.html") if file.sibling else None
        if page is None:
            yield FileError(source, f"its post body posts/{post_id}.html is not in the export; "
                                    "import the whole Substack export folder or zip")
            continue
        text = html_to_text(decode_text(page.read_bytes()))
        if not text:
            yield FileError(page.source, "is a Substack post with no text (a podcast or an empty draft?)")
            continue
        slug = post_id.split(".", 1)[1] if "." in post_id else None
        metadata = {
            "platform": "substack",
            "post_id": post_id,
            "slug": slug,
            "subtitle": row.get("subtitle") or None,
            "type": row.get("type") or None,
            "audience": row.get("audience") or None,
            "published": row.get("is_published", "").lower() == "true",
        }
        for kind in ("opens", "delivers"):  # engagement: one row per reader in posts/<id>.<kind>.csv
            counted = _count_rows(file.sibling(f"posts/{post_id}.{kind}.csv"))
            if counted is not None:
                metadata[kind] = counted
        yield RawRecord(text=text, source=page.source, kind="post", title=row.get("title") or None,
                        created_at=parse_date(row.get("post_date")),
                        metadata={key: value for key, value in metadata.items() if value is not None})


def _count_rows(file: InputFile | None) -> int | None:
    if file is None:
        return None
    with file.open() as stream:
        return max(0, sum(1 for _, _line in zip(range(_MAX_COUNTED_ROWS), stream)) - 1)  # less the header


# ------------------------------------------------------------------------------------------ WordPress

_WXR_TYPES = {"post", "page"}  # not attachments, menu items, revisions or block templates


def read_xml(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """Posts and pages of a WordPress export (WXR); any other XML file is skipped with a reason."""
    with file.open() as stream:
        head = stream.read(8192)
    if b"wordpress.org/export/" not in head:
        raise SkippedFile("skipped: an .xml file that is not a WordPress export (WXR); in WordPress use "
                          "Tools > Export > All content")
    # iterparse keeps memory to one <item> at a time; expat refuses external entities and, from 2.4,
    # entity-expansion bombs.
    with file.open() as stream:
        try:
            for _, element in ElementTree.iterparse(stream, events=("end",)):
                if element.tag == "item":
                    record = _wordpress_item(element, file.source)
                    element.clear()
                    if record is not None:
                        yield record
        except ElementTree.ParseError as error:
            yield FileError(file.source, f"stopped reading: the WordPress export is not well-formed XML ({error}); "
                                         "the posts before that point were read. Export it again")


def _wordpress_item(item: ElementTree.Element, source: str) -> RawRecord | FileError | None:
    fields: dict[str, str] = {}
    categories, tags, comments = [], [], 0
    for child in item:
        name = child.tag.rsplit("}", 1)[-1]
        if name == "category":
            (tags if child.get("domain") == "post_tag" else categories).append((child.text or "").strip())
        elif name == "comment":
            approved = next((c.text for c in child if c.tag.endswith("}comment_approved")), "1")
            comments += approved == "1"
        else:
            fields.setdefault(name, child.text or "")
    post_id = fields.get("post_id", "?")
    here = f"{source}#{post_id}"
    if fields.get("post_type", "post") not in _WXR_TYPES or fields.get("status") in ("auto-draft", "trash"):
        return None
    text = html_to_text(_wordpress_paragraphs(fields.get("encoded", "")))
    if not text:
        return FileError(here, f"is a WordPress {fields.get('post_type', 'post')} with no text")
    gmt = fields.get("post_date_gmt", "")
    created = parse_date(gmt + "+00:00") if gmt and not gmt.startswith("0000") else None
    metadata = {
        "platform": "wordpress",
        "type": fields.get("post_type", "post"),
        "status": fields.get("status") or None,
        "url": fields.get("link") or None,
        "comments": comments,
        "categories": [c for c in categories if c],
        "tags": [t for t in tags if t],
    }
    return RawRecord(text=text, source=here, kind="post", title=html.unescape(fields.get("title", "")).strip() or None,
                     author=fields.get("creator") or None,
                     created_at=created or parse_email_date(fields.get("pubDate")) or parse_date(fields.get("post_date")),
                     metadata=metadata)


def _wordpress_paragraphs(content: str) -> str:
    """WordPress stores classic-editor posts with blank lines for paragraphs (wpautop adds <p> on display)."""
    if "<p" in content or "<!-- wp:" in content:
        return content
    return "".join(f"<p>{block}</p>" for block in re.split(r"\n\s*\n", content) if block.strip())


# ------------------------------------------------------------------------------------------ Medium and any HTML

_MEDIUM_TITLE = re.compile(r'<h1 class="p-name">(.*?)</h1>', re.DOTALL)
_MEDIUM_BODY = re.compile(r'<section data-field="body" class="e-content">(.*?)</section>\s*<footer>', re.DOTALL)
_MEDIUM_SUBTITLE = re.compile(r'<section data-field="subtitle" class="p-summary">(.*?)</section>', re.DOTALL)
_MEDIUM_DATE = re.compile(r'<time class="dt-published" datetime="([^"]+)"')
_MEDIUM_URL = re.compile(r'<a href="([^"]+)" class="p-canonical"')
_MEDIUM_AUTHOR = re.compile(r'class="p-author h-card">([^<]+)</a>')
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.DOTALL | re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


def read_html(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """A Medium export's post, or any other HTML page as one post (its <title> as the title)."""
    side = substack_side_file(file)
    if side is not None:
        if side:
            yield FileError(file.source, side)
        return
    if in_x_archive(file):
        return  # 'Your archive.html', the archive's viewer: the posts are read from data/tweets.js
    page = decode_text(file.read_bytes())
    body = _MEDIUM_BODY.search(page)
    if body:
        yield _medium_post(page, body.group(1), file)
        return
    text = html_to_text(page)
    if not text:
        yield FileError(file.source, "is an HTML page with no text")
        return
    title = _TITLE.search(page)
    yield RawRecord(text=text, source=file.source, kind="post",
                    title=_plain(title.group(1)) if title else None)


def _medium_post(page: str, body: str, file: InputFile) -> RawRecord | FileError:
    title = _MEDIUM_TITLE.search(page)
    title_text = _plain(title.group(1)) if title else None
    text = html_to_text(body)
    if title_text and text.startswith(title_text):  # Medium repeats the title as the body's first heading
        text = text[len(title_text):].lstrip()
    if not text:
        return FileError(file.source, "is a Medium post with no text")
    date, url, author = _MEDIUM_DATE.search(page), _MEDIUM_URL.search(page), _MEDIUM_AUTHOR.search(page)
    subtitle = _MEDIUM_SUBTITLE.search(page)
    metadata = {"platform": "medium", "url": url.group(1) if url else None,
                "subtitle": _plain(subtitle.group(1)) if subtitle else None, "draft": file.name.startswith("draft_")}
    return RawRecord(text=text, source=file.source, kind="post", title=title_text,
                     author=_plain(author.group(1)) if author else None,
                     created_at=parse_date(date.group(1)) if date else None, metadata=metadata)


def _plain(fragment: str) -> str | None:
    return " ".join(html.unescape(_TAGS.sub("", fragment)).split()) or None
