"""Text versions: the project's items' raw text frozen as it is (no labels, no template), for continued
pre-training. Content-hashed and split like example versions, exact and near duplicates kept in one split."""

from __future__ import annotations

import hashlib
import json

from ftstudio.store import Project, Store, Version
from ftstudio.versions.splits import SPLITS, SplitPlan, VersionError, assign_splits
from ftstudio.versions.writer import TEXT, write_version
from ftstudio.wording import quoted

# Continued pre-training wants most of the text to learn from; a small validation split gives its perplexity.
TEXT_PLAN = (0.9, 0.1, 0.0)


def _content_hash(rows: list[dict]) -> str:
    digest = hashlib.sha256(b"text")
    for row in sorted(rows, key=lambda r: (r["split"], r["input"])):
        digest.update(json.dumps([row["split"], row["input"]]).encode())
    return digest.hexdigest()[:16]


def freeze_text_version(store: Store, project: Project, plan: SplitPlan | None = None, name: str | None = None,
                        user_name: str | None = None) -> Version:
    """Freeze every item's text (empty ones left out) into a split text version; the same text again returns the
    existing version."""
    items = [(item_id, text) for item_id, text in store.item_texts(project.id) if (text or "").strip()]
    if not items:
        raise VersionError(f"{quoted(project.name)} has no items with text yet: import posts, emails or files "
                           "first (Data tab, or `ftstudio import`).")
    plan = plan or SplitPlan(TEXT_PLAN)
    splits = assign_splits([text for _, text in items], [None] * len(items), plan)
    rows = [{"example_id": item_id, "split": split, "input": text, "output": None, "label": None}
            for (item_id, text), split in zip(items, splits)]
    counts = {split: splits.count(split) for split in SPLITS}
    counts["characters"] = sum(len(text) for _, text in items)
    return write_version(store, project, TEXT, _content_hash(rows), rows, template={},
                         split={"fractions": list(plan.fractions), "seed": plan.seed}, counts=counts, name=name,
                         user_name=user_name)


def text_rows(store: Store, version: Version) -> dict[str, list[dict]]:
    """A text version's rows per split as {"text": ...}, the form a CPT run folder holds."""
    if not version.is_text:
        raise VersionError(f"Version {version.name} is not a text version: freeze one with `ftstudio freeze --kind "
                           "text`.")
    by_split: dict[str, list[dict]] = {}
    for row in store.version_rows(version.id):
        by_split.setdefault(row.split, []).append({"text": row.input or ""})
    return by_split
