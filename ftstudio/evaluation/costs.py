"""Cost and latency beside quality: per system of a review, how long its answers took, how many tokens they used,
what 1,000 of them cost, and which system is the best buy given the quality intervals.

Hosted systems cost their configured prices times the tokens the endpoint reported; local systems (the base model,
runs, a few-shot prompt) their measured seconds times the price per hour of this machine (Settings; 0 by default,
shown as "your hardware"); the reference is the data's own output and costs nothing to compare.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ftstudio.evaluation.contestants import find_contestant, request_cost, system_kind
from ftstudio.evaluation.results import BradleyTerryRating
from ftstudio.evaluation.stats import bradley_terry
from ftstudio.evaluation.systems import BASE, EvaluationError
from ftstudio.store import Generation, Review, Store

YOUR_HARDWARE = "your hardware"


@dataclass(frozen=True)
class SystemCost:
    """One system's answers: kind (hosted, local, reference), how many, latency, output length and cost."""

    kind: str
    answers: int
    latency_ms_median: float | None
    latency_ms_p95: float | None
    output_tokens_mean: float | None
    cost_per_1000_answers_usd: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def _latency(generation: Generation) -> float | None:
    if generation.latency_ms is not None:
        return generation.latency_ms
    return None if generation.seconds is None else generation.seconds * 1000


def _registered(store: Store, name: str):
    try:
        contestant = find_contestant(store, name)
    except EvaluationError:  # removed since: its prices are gone with it
        return None
    return contestant.hosted if contestant else None


def system_cost(store: Store, name: str, generations: list[Generation], price_per_hour: float = 0.0) -> SystemCost:
    """The figures of one system's answers (see the module's docstring for how each kind is priced)."""
    kind = system_kind(store, name)
    latencies = [v for v in map(_latency, generations) if v is not None]
    outputs = [g.output_tokens for g in generations if g.output_tokens is not None]
    cost = None
    if kind == "hosted":
        system = _registered(store, name)
        costs = [request_cost(system, g.input_tokens, g.output_tokens) for g in generations]
        cost = 1000 * float(np.mean(costs)) if costs and None not in costs else None
    elif kind == "local" and latencies:
        cost = 1000 * float(np.mean(latencies)) / 1000 / 3600 * price_per_hour
    elif kind == "reference":
        latencies = []
    return SystemCost(kind, len(generations),
                      round(float(np.median(latencies)), 1) if latencies else None,
                      round(float(np.percentile(latencies, 95)), 1) if latencies else None,
                      round(float(np.mean(outputs)), 1) if outputs else None,
                      None if cost is None else round(cost, 6))


def review_costs(store: Store, review: Review, price_per_hour: float = 0.0) -> dict[str, SystemCost]:
    """{system: SystemCost} for every system of a review, over the answers the review holds."""
    generations = store.list_generations(review.project_id, review.settings_key, review.systems)
    by_system: dict[str, list[Generation]] = {name: [] for name in review.systems}
    for generation in generations:
        by_system.setdefault(generation.system, []).append(generation)
    return {name: system_cost(store, name, by_system[name], price_per_hour) for name in review.systems}


def judge_bradley_terry(store: Store, review: Review, seed: int = 0) -> list[BradleyTerryRating] | None:
    """Bradley-Terry ratings from the judge's combined verdicts (both orders), as the human ones are computed."""
    from ftstudio.evaluation.verdicts import pair_verdicts

    matches = [(v.first.system, v.second.system, {"a": 1.0, "b": 0.0, "tie": 0.5}[v.combined])
               for v in pair_verdicts(store, review)[0] if v.combined in ("a", "b", "tie")]
    if not matches:
        return None
    return [BradleyTerryRating(**row) for row in bradley_terry(
        matches, review.systems, anchor=BASE if BASE in review.systems else None, seed=seed)]


def cost_text(cost: SystemCost) -> str:
    """What 1,000 answers cost, as a table shows it."""
    if cost.kind == "reference":
        return "the data's own"
    if cost.cost_per_1000_answers_usd is None:
        return "unknown (no prices set)" if cost.kind == "hosted" else "not measured"
    if cost.kind == "local" and cost.cost_per_1000_answers_usd == 0:
        return YOUR_HARDWARE
    return f"${cost.cost_per_1000_answers_usd:.4f}"


def best_buy(ratings: list[BradleyTerryRating] | None, costs: dict[str, SystemCost]) -> str:
    """One sentence: the cheapest system whose quality interval overlaps the best system's, or why none is named."""
    rated = [r for r in ratings or [] if r.rating is not None and r.system in costs
             and costs[r.system].kind != "reference"]
    if len(rated) < 2:
        return "No best buy yet: it needs quality ratings (votes or judge verdicts) on at least two systems."
    best = max(rated, key=lambda r: r.rating)
    close = [r for r in rated if r.ci_high is not None and best.ci_low is not None and r.ci_high >= best.ci_low]
    priced = [r for r in close if costs[r.system].cost_per_1000_answers_usd is not None]
    if not priced:
        return (f"{best.system} rates best; the cost of the systems as good as it within the intervals is unknown, "
                "so no best buy is named (set hosted prices, or this machine's price per hour).")
    cheapest = min(priced, key=lambda r: (costs[r.system].cost_per_1000_answers_usd, -r.rating))
    if cheapest.system == best.system:
        others = len(close) - 1
        return (f"Best buy: {best.system}, the best rated and no dearer than "
                f"{'any system as good within the intervals' if others else 'the rest (none is as good within the intervals)'}.")
    return (f"Best buy: {cheapest.system}, at {cost_text(costs[cheapest.system])} per 1,000 answers: its quality "
            f"interval overlaps that of the best rated, {best.system} ({cost_text(costs[best.system])}).")


def quality_cost_rows(human_ratings: list[BradleyTerryRating] | None, labels: dict[str, str],
                      costs: dict[str, SystemCost], judge: list[BradleyTerryRating] | None) -> list[dict]:
    """One row per system: human and judge Bradley-Terry ratings with intervals, latency and cost."""
    human = {r.system: r for r in human_ratings or []}
    judged = {r.system: r for r in judge or []}

    def shown(rating):
        if rating is None or rating.rating is None:
            return None
        return f"{rating.rating:.0f} [{rating.ci_low:.0f}, {rating.ci_high:.0f}]"

    return [{"system": name, "label": labels.get(name, name), "kind": cost.kind,
             "human_bt": shown(human.get(name)), "judge_bt": shown(judged.get(name)), "answers": cost.answers,
             "latency_ms_median": cost.latency_ms_median, "latency_ms_p95": cost.latency_ms_p95,
             "output_tokens_mean": cost.output_tokens_mean, "cost_per_1000": cost_text(cost),
             "cost_per_1000_answers_usd": cost.cost_per_1000_answers_usd}
            for name, cost in costs.items()]


@dataclass
class QualityCost:
    """The Results tab's quality-cost section: a row per system, the ratings the chart places, the best buy."""

    rows: list[dict]
    ratings: list[BradleyTerryRating]
    source: str  # whose ratings place the systems: people, or the judge when no person voted
    best_buy: str


def quality_cost(store: Store, review: Review, price_per_hour: float = 0.0) -> QualityCost:
    """Quality (human and judge Bradley-Terry ratings with intervals), latency and cost per system of a review."""
    from ftstudio.evaluation.report import human_verdicts
    from ftstudio.evaluation.review import system_labels

    results = human_verdicts(store, review)
    judge = judge_bradley_terry(store, review)
    costs = review_costs(store, review, price_per_hour)
    human = [r for r in results.bradley_terry or [] if r.rating is not None]
    ratings, source = (human, "people") if len(human) >= 2 else (judge or [], "the judge")
    return QualityCost(quality_cost_rows(results.bradley_terry, system_labels(store, review), costs, judge), ratings, source, best_buy(ratings, costs))
