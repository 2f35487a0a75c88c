"""Dataset versions: freeze accepted examples into an immutable, content-hashed, split snapshot; export it.

Runs train only on a frozen version, so every result traces back to its exact data.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from ftstudio.importing import normalise_for_hash
from ftstudio.store import Example, Project, Store, Version, VersionRow
from ftstudio.templates import Template, check, render
from ftstudio.wording import quoted

SPLITS = ("train", "validation", "test")
EXPORT_FORMATS = ("jsonl", "jsonl-prompt", "parquet", "hf")
NEAR_DUPLICATE_THRESHOLD = 0.8


class VersionError(ValueError):
    """A freeze or export that cannot go ahead, with what to do."""


@dataclass
class SplitPlan:
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0

    def __post_init__(self):
        fractions = tuple(float(f) for f in self.fractions)
        if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
            raise VersionError(f"Split fractions must be three non-negative numbers adding up to 1, like 0.8,0.1,0.1; "
                               f"got {','.join(str(f) for f in self.fractions)}.")
        if fractions[0] == 0:
            raise VersionError("The train fraction must be above 0.")
        self.fractions = fractions


def parse_split(text: str) -> tuple[float, float, float]:
    try:
        return tuple(float(part) for part in text.split(","))  # type: ignore[return-value]
    except ValueError:
        raise VersionError(f"Split fractions look like 0.8,0.1,0.1; got {text!r}.") from None


# --- grouping exact and near duplicates -------------------------------------------


def _shingles(text: str, size: int = 3) -> set[str]:
    words = re.findall(r"\w+", text.casefold())
    if len(words) < size:
        return {" ".join(words)}
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def duplicate_groups(texts: list[str], threshold: float = NEAR_DUPLICATE_THRESHOLD) -> list[int]:
    """A group id per text: exact duplicates (after normalisation) and near duplicates share one.

    Near duplicates are found with MinHash LSH (datasketch) over word 3-grams, so
    the cost stays linear in the number of examples.
    """
    from datasketch import MinHash, MinHashLSH

    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    first_with_key: dict[str, int] = {}
    lsh = MinHashLSH(threshold=threshold, num_perm=64)
    for index, text in enumerate(texts):
        key = normalise_for_hash(text)
        if key in first_with_key:
            union(index, first_with_key[key])
            continue
        first_with_key[key] = index
        signature = MinHash(num_perm=64, seed=1)
        signature.update_batch([s.encode("utf-8") for s in _shingles(text)])
        for other in lsh.query(signature):
            union(index, other)
        lsh.insert(index, signature)
    return [find(i) for i in range(len(texts))]


def assign_splits(texts: list[str], labels: list[str | None], plan: SplitPlan) -> list[str]:
    """A split per example: seeded, stratified by label, duplicates always in the same split.

    Groups of duplicates are dealt out whole, each to the split furthest below its
    target share within the group's label.
    """
    groups = duplicate_groups(texts)
    members: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    strata: dict[str | None, list[list[int]]] = defaultdict(list)
    for group_members in members.values():
        majority = Counter(labels[i] for i in group_members).most_common(1)[0][0]
        strata[majority].append(group_members)
    rng = random.Random(plan.seed)
    result = [""] * len(texts)
    for label in sorted(strata, key=str):
        stratum = strata[label]
        rng.shuffle(stratum)
        size = sum(len(g) for g in stratum)
        filled = [0, 0, 0]
        for group_members in stratum:
            # Deficit against the target after this group lands; train breaks ties, so tiny sets train first.
            deficits = [plan.fractions[s] * size - filled[s] for s in range(3)]
            choice = max(range(3), key=lambda s: (deficits[s], -s) if plan.fractions[s] > 0 else (float("-inf"), 0))
            filled[choice] += len(group_members)
            for index in group_members:
                result[index] = SPLITS[choice]
    return result


# --- freezing ---------------------------------------------------------------------


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


def split_warnings(counts: dict[str, int]) -> list[str]:
    """What an empty split means for the user, said before (and when) they freeze."""
    warnings = []
    if counts.get("train", 0) and not counts.get("validation"):
        warnings.append("The validation split is empty: training will show no validation loss, so you cannot see "
                        "overfitting.")
    if counts.get("train", 0) and not counts.get("test"):
        warnings.append("The test split is empty: there will be nothing to compare side by side on the Review tab "
                        "after training (you can still type prompts there).")
    if warnings:
        warnings.append("Label more examples (10 or more give every split at least one with 0.8,0.1,0.1), or change "
                        "the split fractions.")
    return warnings


def content_hash(template: Template, rows: list[dict]) -> str:
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
        raise VersionError(f"{quoted(project.name)} has no accepted examples yet: label some items (or import paired data) first.")
    splits = assign_splits([f"{e.input or ''}\n{e.output or ''}" for e in examples],
                           [e.label for e in examples] if project.task_type == "classification" else
                           [None] * len(examples), plan)
    rows = [{"example_id": e.id, "split": split, "input": e.input, "output": e.output, "label": e.label}
            for e, split in zip(examples, splits)]
    digest = content_hash(template, rows)
    existing = store.find_version_by_hash(project.id, digest)
    if existing is not None:
        return existing
    counts = {s: sum(r["split"] == s for r in rows) for s in SPLITS}
    if project.task_type == "classification":
        counts["labels"] = dict(Counter(r["label"] for r in rows))
    name = (name or "").strip() or f"v{len(store.list_versions(project.id)) + 1}"
    store.create_version(project.id, name, digest, template.to_dict(),
                         {"fractions": list(plan.fractions), "seed": plan.seed}, counts, rows, user_name)
    return store.find_version(project.id, name)


def get_version(store: Store, project: Project, name: str) -> Version:
    version = store.find_version(project.id, name)
    if version is None:
        names = ", ".join(v.name for v in store.list_versions(project.id)) or "none yet"
        raise VersionError(f"{quoted(project.name)} has no version {quoted(name)} (versions: {names}).")
    return version


# --- export -----------------------------------------------------------------------


def messages_for(row: VersionRow, template: Template) -> list[dict]:
    messages = [{"role": "system", "content": template.system}] if template.system else []
    return messages + [{"role": "user", "content": row.input or ""},
                       {"role": "assistant", "content": row.output or row.label or ""}]


def export_rows(store: Store, version: Version, tokenizer=None) -> dict[str, list[dict]]:
    """Rows per split with every form: raw fields, chat messages, and rendered prompt/completion."""
    template = Template.from_dict(version.template)
    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for row in store.version_rows(version.id):
        record = {"input": row.input or "", "output": row.output or "", "label": row.label or "",
                  "messages": messages_for(row, template)}
        if template.preset != "chat" or tokenizer is not None:
            rendered = render(template, row, tokenizer)
            record["prompt"], record["completion"] = rendered.prompt, rendered.completion
        by_split[row.split].append(record)
    return by_split


def export_version(store: Store, version: Version, fmt: str, out: Path, tokenizer=None) -> list[Path]:
    """Write a version to `out` as jsonl (messages), jsonl-prompt, parquet, or a datasets DatasetDict."""
    if version.is_preferences:
        from ftstudio.preferences import export_preference_version

        return export_preference_version(store, version, fmt, out)
    if fmt not in EXPORT_FORMATS:
        raise VersionError(f"Unknown export format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}.")
    by_split = export_rows(store, version, tokenizer)
    if fmt == "jsonl-prompt" and any("prompt" not in r for rows in by_split.values() for r in rows):
        raise VersionError("Prompt/completion export of a chat-template version needs the base model's tokenizer.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if fmt == "hf":
        dataset_dict = to_dataset_dict(by_split)
        dataset_dict.save_to_disk(str(out))
        return [out]
    for split, rows in by_split.items():
        if not rows:
            continue
        if fmt == "parquet":
            import pandas as pd

            frame = pd.DataFrame(rows)
            frame["messages"] = frame["messages"].map(json.dumps)
            path = out / f"{split}.parquet"
            frame.to_parquet(path, index=False)
        else:
            path = out / f"{split}.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for row in rows:
                    record = ({"messages": row["messages"]} if fmt == "jsonl"
                              else {"prompt": row["prompt"], "completion": row["completion"]})
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        written.append(path)
    (out / "version.json").write_text(json.dumps(
        {k: getattr(version, k) for k in ("name", "content_hash", "template", "split", "counts")}, indent=2))
    return written + [out / "version.json"]


def to_dataset_dict(by_split: dict[str, list[dict]]):
    from datasets import Dataset, DatasetDict

    return DatasetDict({split: Dataset.from_list(rows) for split, rows in by_split.items() if rows})


def push_version(store: Store, version: Version, repo_id: str, token: str | None, tokenizer=None) -> str:
    """Push a version to the Hugging Face Hub as a private dataset (needs a token and network)."""
    if not token:
        raise VersionError("Pushing to the Hub needs a token: set HF_TOKEN (write access) and try again.")
    to_dataset_dict(export_rows(store, version, tokenizer)).push_to_hub(repo_id, token=token, private=True)
    return f"https://huggingface.co/datasets/{repo_id}"
