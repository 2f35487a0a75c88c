"""The judge's stored judgments read back as verdicts: per pair (both orders, and the combined verdict), position
consistency, wins per system, win rates with intervals, and single-answer scores per system.

A system wins a pair only when the judge picked it in both orders; a verdict that flips with the order counts as a
tie (MT-Bench's position-bias mitigation). A pair with an order still invalid or failed has no combined verdict.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ftstudio.evaluation.judging import PAIRWISE, SINGLE, review_generations, same_answer
from ftstudio.evaluation.review import system_labels
from ftstudio.evaluation.stats import CONFIDENCE, RESAMPLES, PairCounts, win_rate
from ftstudio.store import Generation, Judgment, Review, ReviewPair, Store


@dataclass
class PairVerdict:
    pair: ReviewPair
    first: Generation    # the pair's a
    second: Generation   # the pair's b
    in_order: Judgment | None     # a shown as answer A
    swapped: Judgment | None      # b shown as answer A

    @property
    def orders(self) -> list[str | None]:
        return [j.verdict if j is not None and j.status == "ok" else None for j in (self.in_order, self.swapped)]

    @property
    def combined(self) -> str | None:
        """a | b | tie once both orders have a verdict; a side wins only when both orders agree."""
        if same_answer(self.first, self.second):
            return "tie"
        first, second = self.orders
        if first is None or second is None:
            return None
        return first if first == second else "tie"

    @property
    def consistent(self) -> bool | None:
        first, second = self.orders
        return None if first is None or second is None else first == second


def _latest_judge(judgments: list[Judgment]) -> tuple[str, str] | None:
    if not judgments:
        return None
    latest = max(judgments, key=lambda j: (j.updated_at, j.id))
    return latest.judge, latest.prompt_digest


def judges_of(store: Store, review: Review, mode: str = PAIRWISE) -> list[dict]:
    """Every judge (and prompt version) that judged this review, newest first."""
    generations = review_generations(store, review)
    seen: dict[tuple[str, str], dict] = {}
    for judgment in store.list_judgments(review.project_id, list(generations), mode):
        key = (judgment.judge, judgment.prompt_digest)
        entry = seen.setdefault(key, {"judge": judgment.judge, "prompt_version": judgment.prompt_version,
                                      "prompt_digest": judgment.prompt_digest, "judgments": 0, "latest": None})
        entry["judgments"] += 1
        entry["latest"] = max(filter(None, [entry["latest"], judgment.updated_at]))
    return sorted(seen.values(), key=lambda e: e["latest"], reverse=True)


def pair_verdicts(store: Store, review: Review, judge: str | None = None,
                  prompt_digest: str | None = None) -> tuple[list[PairVerdict], list[Judgment]]:
    """The review's pairs with the judge's verdict in each order (default: the judge and prompt used last)."""
    generations = review_generations(store, review)
    judgments = [j for j in store.list_judgments(review.project_id, list(generations), PAIRWISE)]
    if judge is None:
        latest = _latest_judge(judgments)
        if latest is None:
            return [], []
        judge, prompt_digest = latest
    judgments = [j for j in judgments if j.judge == judge and (prompt_digest is None or j.prompt_digest == prompt_digest)]
    by_pair: dict[tuple[int, int], dict[int, Judgment]] = defaultdict(dict)
    for judgment in judgments:
        by_pair[(judgment.generation_a, judgment.generation_b)][judgment.shown_first] = judgment
    verdicts = []
    for pair in store.review_pairs(review.id):
        orders = by_pair.get((pair.generation_a, pair.generation_b))
        first, second = generations.get(pair.generation_a), generations.get(pair.generation_b)
        if first is not None and second is not None and (orders or same_answer(first, second)):
            orders = orders or {}
            verdicts.append(PairVerdict(pair, first, second, orders.get(first.id), orders.get(second.id)))
    return verdicts, judgments


def judge_counts(verdicts: list[PairVerdict]) -> dict[tuple[str, str], PairCounts]:
    counts: dict[tuple[str, str], PairCounts] = defaultdict(PairCounts)
    outcome = {"a": "wins", "b": "losses", "tie": "ties"}
    for verdict in verdicts:
        if verdict.combined is not None:
            entry = counts[(verdict.first.system, verdict.second.system)]
            setattr(entry, outcome[verdict.combined], getattr(entry, outcome[verdict.combined]) + 1)
    return counts


def pairwise_summary(store: Store, review: Review, judge: str | None = None, prompt_digest: str | None = None,
                     resamples: int = RESAMPLES) -> dict | None:
    """The judge's pairwise results on the review: None when it has not judged it."""
    verdicts, judgments = pair_verdicts(store, review, judge, prompt_digest)
    if not judgments:
        return None
    labels = system_labels(store, review)
    statuses = [j.status for j in judgments]
    consistent = [v.consistent for v in verdicts if v.consistent is not None]
    wins: dict[str, int] = {name: 0 for name in review.systems}
    ties = 0
    for verdict in verdicts:
        if verdict.combined == "tie":
            ties += 1
        elif verdict.combined is not None:
            wins[(verdict.first if verdict.combined == "a" else verdict.second).system] += 1
    counts = judge_counts(verdicts)
    table = {}
    for index, first in enumerate(review.systems):
        for second in review.systems[index + 1:]:
            result = win_rate(counts.get((first, second), PairCounts()), labels[first], labels[second], resamples)
            table[f"{first} vs {second}"] = {"system": first, "against": second, **result.to_dict()}
    return {"judge": judgments[-1].judge, "prompt_version": judgments[-1].prompt_version, "mode": PAIRWISE,
            "pairs": len(store.review_pairs(review.id)), "judged_pairs": sum(v.combined is not None for v in verdicts),
            "judgments": statuses.count("ok") + statuses.count("invalid"), "invalid": statuses.count("invalid"),
            "failed": statuses.count("failed"),
            "position_consistency": (sum(consistent) / len(consistent)) if consistent else None,
            "wins": wins, "ties": ties, "win_rates": table}


def single_summary(store: Store, review: Review, resamples: int = RESAMPLES, seed: int = 0) -> dict | None:
    """Mean 1-10 grade per system with a 95% bootstrap interval, from the judge and prompt used last."""
    generations = review_generations(store, review)
    judgments = store.list_judgments(review.project_id, list(generations), SINGLE)
    latest = _latest_judge(judgments)
    if latest is None:
        return None
    judgments = [j for j in judgments if (j.judge, j.prompt_digest) == latest]
    scores: dict[str, list[float]] = defaultdict(list)
    for judgment in judgments:
        if judgment.status == "ok" and judgment.generation_a in generations:
            scores[generations[judgment.generation_a].system].append(judgment.score)
    rng = np.random.default_rng(seed)
    tail = (1 - CONFIDENCE) / 2 * 100
    systems = []
    for name in review.systems:
        values = np.array(scores.get(name, []), dtype=float)
        if len(values) == 0:
            systems.append({"system": name, "graded": 0, "mean": None, "ci_low": None, "ci_high": None})
            continue
        means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
        low, high = np.percentile(means, [tail, 100 - tail])
        systems.append({"system": name, "graded": len(values), "mean": float(values.mean()), "ci_low": float(low),
                        "ci_high": float(high)})
    statuses = [j.status for j in judgments]
    return {"judge": latest[0], "prompt_version": judgments[-1].prompt_version, "mode": SINGLE,
            "judgments": statuses.count("ok") + statuses.count("invalid"), "invalid": statuses.count("invalid"),
            "failed": statuses.count("failed"), "systems": systems}
