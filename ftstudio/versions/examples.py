"""Example versions: freeze accepted examples into an immutable, content-hashed, split snapshot.

Runs train only on a frozen version, so every result traces back to its exact data.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict

from ftstudio.store import Example, Project, Store, Version
from ftstudio.templates import Template, check
from ftstudio.versions.splits import SPLITS, SplitPlan, VersionError, assign_splits
from ftstudio.versions.writer import EXAMPLES, write_version
from ftstudio.wording import quoted

def resolve_examples(store: Store, project: Project) -> list[Example]:
    """One example per item: the majority label (latest on ties) or the latest accepted text."""
    by_item: dict[object, list[dict]] = defaultdict(list)
    for example in store.list_examples(project.id, "accepted"):
        by_item[example.item_id if example.item_id is not None else f"x{example.id}"].append(example)
    resolved = []
    for examples in by_item.values():
        examples.sort(key=lambda e: e.id)
        if project.task_type == "classification":
            votes = Counter(e.label for e in examples)
            top = max(votes.values())
            winner = next(e for e in reversed(examples) if votes[e.label] == top)
        else:
            winner = examples[-1]
        resolved.append(winner)
    return sorted(resolved, key=lambda e: e.id)


def planned_counts(store: Store, project: Project, plan: SplitPlan) -> dict[str, int]:
    """How many examples each split would get if the project were frozen now with this plan."""
    examples = resolve_examples(store, project)
    splits = assign_splits([f"{e.input or ''}\n{e.output or ''}" for e in examples],
                           [e.label for e in examples] if project.task_type == "classification" else
                           [None] * len(examples), plan) if examples else []
    return {s: splits.count(s) for s in SPLITS}


def content_hash(template: Template, rows: list[dict]) -> str:
    """The hash of a template and split rows: the same data frozen the same way gives the same version."""
    digest = hashlib.sha256(json.dumps(template.to_dict(), sort_keys=True).encode())
    for row in sorted(rows, key=lambda r: (r["split"], r["input"] or "", r["output"] or "", r["label"] or "")):
        digest.update(json.dumps([row["split"], row["input"], row["output"], row["label"]]).encode())
    return digest.hexdigest()[:16]


def freeze_version(store: Store, project: Project, template: Template | None = None, plan: SplitPlan | None = None,
                   name: str | None = None, user_name: str | None = None) -> Version:
    """Snapshot the project's accepted examples; freezing unchanged data again returns the existing version."""
    template = template or Template.from_dict(project.settings.get("template"))
    plan = plan or SplitPlan()
    if template.preset != "chat":
        check(template)
    examples = resolve_examples(store, project)
    if not examples:
        pairs = len(store.imported_preferences(project.id))
        hint = (f" It holds {pairs} imported preference pair(s): freeze those as a preference version in the Datasets "
                f"tab (Preference pairs) or with `ftstudio preferences --project {project.name!r} --freeze`."
                if pairs else "")
        raise VersionError(f"{quoted(project.name)} has no accepted examples yet: label some items (or import paired "
                           f"data) first.{hint}")
    splits = assign_splits([f"{e.input or ''}\n{e.output or ''}" for e in examples],
                           [e.label for e in examples] if project.task_type == "classification" else
                           [None] * len(examples), plan)
    rows = [{"example_id": e.id, "split": split, "input": e.input, "output": e.output, "label": e.label}
            for e, split in zip(examples, splits)]
    counts = {s: sum(r["split"] == s for r in rows) for s in SPLITS}
    if project.task_type == "classification":
        counts["labels"] = dict(Counter(r["label"] for r in rows))
    return write_version(store, project, EXAMPLES, content_hash(template, rows), rows, template=template.to_dict(),
                         split={"fractions": list(plan.fractions), "seed": plan.seed}, counts=counts, name=name,
                         user_name=user_name)
