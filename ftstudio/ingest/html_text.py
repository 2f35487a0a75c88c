"""Readable plain text from an HTML email body, via html2text, with its Markdown markup removed."""

from __future__ import annotations

import re

import html2text

_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)(?: \"[^\"]*\")?\)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|])")
_HEADING = re.compile(r"^#{1,6} +", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Plain text of an HTML body: paragraphs and list items kept, links as 'text (url)', no markup.

    html2text writes Markdown; we keep its layout but undo the markup, because the text becomes
    training data and a model should not learn to write '**' and '\\-' in emails.
    """
    converter = html2text.HTML2Text()  # a fresh one per call: it keeps parse state
    converter.body_width = 0  # do not re-wrap lines
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True  # email layouts use tables for positioning, not data
    converter.use_automatic_links = False
    converter.ul_item_mark = "-"
    text = converter.handle(html)
    if "](" in text:
        text = _LINK.sub(_readable_link, text)
    if "#" in text:
        text = _HEADING.sub("", text)
    if "\\" in text:
        text = _ESCAPE.sub(r"\1", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _readable_link(match: re.Match) -> str:
    label, url = match.group(1).strip(), match.group(2)
    if not label or label == url or url.startswith("mailto:") and label == url[7:]:
        return url.removeprefix("mailto:")
    if url.startswith("#"):
        return label
    return f"{label} ({url})"
