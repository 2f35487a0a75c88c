"""Turning domain answers into widget values. User and model text is always escaped: shown, never run."""

from __future__ import annotations

import html

import pandas as pd

from ftstudio.importing import ImportReport

ERROR_COLUMNS = ["file", "reason"]


def escape(text: object) -> str:
    """Text safe inside gr.Markdown: HTML escaped, and Markdown's own markup characters neutralised.

    Quotes stay as they are: they are harmless in text, and their entities (&#x27;) would be broken by the
    backslash put before '#' below and show literally.
    """
    escaped = html.escape(str(text), quote=False)
    for ch in "\\`*_[]{}()#+!|~":
        escaped = escaped.replace(ch, "\\" + ch)
    return escaped


def report_markdown(reports: list[ImportReport]) -> str:
    lines = []
    for r in reports:
        skipped = f" · **{len(r.errors)}** skipped" if r.errors else ""
        skipped += f" · **{r.paired}** ready-made examples" if r.paired else ""
        lines.append(
            f"**{escape(r.project)}**: **{r.imported}** imported · **{r.duplicates}** duplicates{skipped} "
            f"· {r.seconds:.1f} s"
        )
        if r.preference_pairs:
            lines.append(f"**{r.preference_pairs}** preference pair(s) imported; freeze them as a preference version "
                         "in the Datasets tab (section 4, Preference pairs).")
    return "\n\n".join(lines) or "Nothing imported."


def error_frame(reports: list[ImportReport]) -> pd.DataFrame:
    rows = [[e.source, e.reason] for r in reports for e in r.errors]
    return pd.DataFrame(rows, columns=ERROR_COLUMNS)


def safe_filename(name: str) -> str:
    """A file name every OS accepts: letters, digits, dots, dashes and underscores only (no ':' for Windows)."""
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned[:120] or "export"


def message(text: str, kind: str = "info") -> str:
    # Text symbols rather than emoji: they render in every font, headless browsers included.
    icon = {"info": "ℹ", "ok": "✓", "error": "⚠"}[kind]
    return f"{icon} {escape(text)}"
