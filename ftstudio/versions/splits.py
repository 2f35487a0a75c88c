"""Splits: train, validation and test, seeded, stratified by label, with exact and near duplicates kept together.

Shared by example versions and preference versions.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from ftstudio.importing import normalise_for_hash

SPLITS = ("train", "validation", "test")
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
