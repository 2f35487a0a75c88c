"""Results of a review: human win rates with intervals per pair of systems, Bradley-Terry scores, breakdowns by
label or item field, reviewer agreement; the judge's verdicts and how far it agrees with people; automatic
metrics; runs side by side; and exports (ratings as CSV/Parquet, preference pairs for DPO)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import fields, replace
from pathlib import Path

from ftstudio.evaluation.compare import review_queue
from ftstudio.evaluation.results import (BradleyTerryRating, BreakdownRow, HumanVerdicts, JudgeSummary, JudgeUsed,
                                         PairWinRate, Results, ReviewerAgreement, RunComparison, SingleGrades)
from ftstudio.evaluation.review import agreement, system_labels
from ftstudio.evaluation.systems import BASE
from ftstudio.evaluation.stats import PairCounts, bradley_terry, win_rate
from ftstudio.store import Review, Store

OUTCOME = {"a": "wins", "b": "losses", "tie": "ties", "both_bad": "both_bad"}


def _rated(store: Store, review: Review):
    """(rating, system of a, system of b, generation a, generation b) for every rating of the review."""
    generations = {g.id: g for g in store.list_generations(review.project_id, review.settings_key, review.systems)}
    for rating in store.list_ratings(review.id):
        first, second = generations.get(rating.generation_a), generations.get(rating.generation_b)
        if first is not None and second is not None:
            yield rating, first, second


def _pair_counts(rows) -> dict[tuple[str, str], PairCounts]:
    counts: dict[tuple[str, str], PairCounts] = defaultdict(PairCounts)
    for rating, first, second in rows:
        entry = counts[(first.system, second.system)]
        setattr(entry, OUTCOME[rating.winner], getattr(entry, OUTCOME[rating.winner]) + 1)
    return counts


def _pair_table(review: Review, counts: dict[tuple[str, str], PairCounts],
                labels: dict[str, str]) -> dict[str, PairWinRate]:
    table = {}
    for index, first in enumerate(review.systems):
        for second in review.systems[index + 1:]:
            result = win_rate(counts.get((first, second), PairCounts()), labels[first], labels[second])
            table[f"{first} vs {second}"] = PairWinRate.of(first, second, result)
    return table


def human_verdicts(store: Store, review: Review, seed: int = 0, with_bradley_terry: bool = True) -> HumanVerdicts:
    """Every pair of systems' counts, win rate over decisive votes and 95% bootstrap interval, with a verdict;
    Bradley-Terry ratings (base model at 1000) when more than two systems are compared."""
    rows = list(_rated(store, review))
    labels = system_labels(store, review)
    counts = _pair_counts(rows)
    identical = review_queue(store, review).identical
    for _, first, second in identical:  # never put to people: the same words on both sides are a tie
        counts[(first, second)].ties += 1
    ratings = None
    # Refitting Bradley-Terry 1,000 times is the slow part: the live line under each vote leaves it out.
    if with_bradley_terry and len(review.systems) > 2:
        matches = [(first.system, second.system, {"a": 1.0, "b": 0.0}.get(rating.winner, 0.5))
                   for rating, first, second in rows]
        ratings = [BradleyTerryRating(**row) for row in bradley_terry(
            matches, review.systems, anchor=BASE if BASE in review.systems else None, seed=seed)]
    return HumanVerdicts(votes=len(rows), reviewers=sorted({r.rater for r, _, _ in rows}),
                         human=_pair_table(review, counts, labels), bradley_terry=ratings,
                         reviewer_agreement=ReviewerAgreement(**agreement(store, review)),
                         identical_pairs=len(identical))


def human_results(store: Store, review: Review, resamples: int = 2000, seed: int = 0,
                  with_bradley_terry: bool = True) -> dict:
    """human_verdicts() as the dict the live line under each vote reads, with the review, its run and systems."""
    verdicts = human_verdicts(store, review, seed, with_bradley_terry)
    return {"review": review.id, "run": review.run_id, "systems": review.systems,
            "labels": system_labels(store, review), **verdicts.to_dict()}


def _human_rows(store: Store, review: Review):
    return [(first, second, rating.winner) for rating, first, second in _rated(store, review)]


def judge_section(store: Store, review: Review, resamples: int = 2000) -> tuple[JudgeSummary | None, list]:
    """The judge's results (pairwise, and single grades if any), with its length bias and length-controlled win
    rates; and the per-pair verdicts they came from."""
    from ftstudio.evaluation.judging import review_generations
    from ftstudio.evaluation.trust import length_bias, length_controlled
    from ftstudio.evaluation.verdicts import judges_of, pair_verdicts, pairwise_summary, single_summary

    pairwise = pairwise_summary(store, review, resamples=resamples)
    single = single_summary(store, review)
    if pairwise is None and single is None:
        return None, []
    verdicts = pair_verdicts(store, review)[0] if pairwise else []
    grades = SingleGrades.from_summary(single) if single else None
    judges = [JudgeUsed(**{k: v for k, v in entry.items() if k != "latest"}) for entry in judges_of(store, review)]
    if not pairwise:
        return JudgeSummary(single["judge"], single["prompt_version"], "single", single=grades, judges=judges), []
    ratings = store.list_ratings(review.id)
    win_rates = {key: PairWinRate(**entry) for key, entry in pairwise.pop("win_rates").items()}
    bias = length_bias(verdicts, ratings, review_generations(store, review))
    controlled = length_controlled(review, system_labels(store, review),
                                   [(v.first, v.second, v.combined) for v in verdicts if v.combined])
    return JudgeSummary(**pairwise, pairwise=True, win_rates=win_rates, length_bias=bias,
                        length_controlled=controlled, single=grades, judges=judges), verdicts


def _guarded(errors: dict[str, str], panel: str, compute, fallback=None):
    """compute(), or `fallback` with the error recorded under `panel`."""
    try:
        return compute()
    except Exception as error:  # noqa: BLE001 -- any bug in one panel's figures must leave the other panels standing
        errors[panel] = f"{type(error).__name__}: {error}"
        return fallback


def full_results(store: Store, review: Review, with_bradley_terry: bool = True, disagreement_rows: int = 25) -> Results:
    """Everything the results view and `ftstudio report --json` show: human votes, the judge, their agreement,
    the pairs where they disagree most, and the automatic metrics."""
    from ftstudio.evaluation.corrections import corrections_by_system
    from ftstudio.evaluation.metrics import metrics_table
    from ftstudio.evaluation.trust import disagreements, judge_agreement, length_controlled

    errors: dict[str, str] = {}
    labels = _guarded(errors, "labels", lambda: system_labels(store, review), {name: name for name in review.systems})
    results = Results(review.id, review.run_id, review.systems, labels, errors=errors)
    human = _guarded(errors, "human", lambda: human_verdicts(store, review, with_bradley_terry=with_bradley_terry))
    if human is not None:
        for part in fields(human):
            setattr(results, part.name, getattr(human, part.name))
    results.human_length_controlled = _guarded(
        errors, "human_length_controlled", lambda: length_controlled(review, labels, _human_rows(store, review)), {})
    judge, verdicts = _guarded(errors, "judge", lambda: judge_section(store, review), (None, []))
    results.judge = judge
    ratings = store.list_ratings(review.id)
    if verdicts:
        results.agreement = _guarded(errors, "agreement", lambda: judge_agreement(
            verdicts, ratings, judge.position_consistency))
        results.disagreements = _guarded(errors, "disagreements", lambda: disagreements(
            store, review, verdicts, ratings, disagreement_rows), [])
    corrections = _guarded(errors, "corrections", lambda: corrections_by_system(store, review), {})
    results.corrections = corrections if any(corrections.values()) else {}  # in --json once there are any
    results.metrics = _guarded(errors, "metrics", lambda: metrics_table(store, review), [])
    return results


def compare_runs(store: Store, runs: list) -> list[RunComparison]:
    """One row per run: its latest review's human and judge win rate against the base model, the judge's
    length-controlled win rate and agreement with people, and the headline metrics on all outputs."""
    from ftstudio.evaluation.review import latest_review

    rows = []
    for run in runs:
        review = latest_review(store, run)
        row = RunComparison(run.id, run.system, run.method, run.version_name, review.id if review else None)
        # Tuned systems come before the base model in a review (resolve_systems), so the key reads run-N vs base.
        key = f"{run.system} vs {BASE}"
        results = full_results(store, review, with_bradley_terry=False, disagreement_rows=0) if review else None
        if results is not None and key in results.human:
            human = results.human[key]
            judge = results.judge.win_rates.get(key) if results.judge else None
            controlled = results.judge.length_controlled.get(key) if results.judge else None
            mine = [m for m in results.metrics if m["system"] == run.system]
            overall = next((m for m in mine if m["split"] == "all"), mine[0] if mine else {})
            row = replace(row, compared=True, human_votes=human.votes, human_win_rate=human.win_rate,
                          human_ci=[human.ci_low, human.ci_high],
                          judge_win_rate=judge.win_rate if judge else None,
                          judge_ci=[judge.ci_low, judge.ci_high] if judge else None,
                          judge_lc_win_rate=controlled.lc_win_rate if controlled else None,
                          judge_kappa=results.agreement.kappa if results.agreement else None,
                          **{name: overall.get(name) for name in ("rougeL", "bleu", "exact_match", "accuracy",
                                                                  "macro_f1", "json_valid", "perplexity",
                                                                  "similarity")})
        rows.append(row)
    return rows


def breakdown_fields(store: Store, review: Review) -> list[str]:
    """Item fields the results can be broken down by (those with at least two values among rated items)."""
    values: dict[str, set] = defaultdict(set)
    for _, first, _ in _rated(store, review):
        for key, value in (first.metadata or {}).items():
            values[key].add(str(value))
    return sorted(key for key, seen in values.items() if 2 <= len(seen) <= 50)


def breakdown(store: Store, review: Review, field: str, resamples: int = 1000) -> list[BreakdownRow]:
    """The first pair of systems' win rate per value of an item field (a label, a kind, an author...)."""
    first_system, second_system = review.systems[0], review.systems[1]
    labels = system_labels(store, review)
    by_value: dict[str, list] = defaultdict(list)
    for row in _rated(store, review):
        rating, first, second = row
        if (first.system, second.system) == (first_system, second_system):
            by_value[str((first.metadata or {}).get(field, "(none)"))].append(row)
    table = []
    for value, rows in sorted(by_value.items()):
        counts = _pair_counts(rows).get((first_system, second_system), PairCounts())
        table.append(BreakdownRow(value, **win_rate(counts, labels[first_system], labels[second_system],
                                                     resamples=resamples).to_dict()))
    return table


# --- exports ----------------------------------------------------------------------------


def ratings_table(store: Store, review: Review) -> list[dict]:
    """Every human rating with both answers and who was shown as A: what the CSV and Parquet exports hold."""
    winner_of = {"a": lambda f, s: f.system, "b": lambda f, s: s.system, "tie": lambda f, s: "tie",
                 "both_bad": lambda f, s: "both bad"}
    return [{"rating_id": rating.id, "review_id": review.id, "reviewer": rating.rater, "item": first.item_key,
             "input": first.input, "system_a": first.system, "system_b": second.system,
             "shown_as_A": first.system if rating.shown_left == first.id else second.system,
             "winner": winner_of[rating.winner](first, second), "score_a": rating.score_a, "score_b": rating.score_b,
             "comment": rating.comment or "", "output_a": first.output, "output_b": second.output,
             "seconds": rating.seconds, "rated_at": str(rating.created_at)}
            for rating, first, second in _rated(store, review)]


def export_ratings(store: Store, review: Review, out_dir: Path, fmt: str = "csv") -> Path:
    import pandas as pd

    if fmt not in ("csv", "parquet"):
        raise ValueError(f"Ratings export as csv or parquet, not {fmt!r}.")
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(ratings_table(store, review))
    path = out_dir / f"review-{review.id}-ratings.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    return path


def preference_pairs(store: Store, review: Review) -> list[dict]:
    """{prompt, chosen, rejected} from the review's human votes, by the one rule every path uses (the Datasets
    tab, `ftstudio preferences`): ties, both-bad votes, reviewers who disagree and identical answers are left out.
    TRL's DPOTrainer's standard preference format; the prompt is exactly what the models were given."""
    from ftstudio.evaluation.preference_pairs import PreferenceFilters, collect_preferences

    candidates = collect_preferences(store, store.get_project(review.project_id),
                                     PreferenceFilters(review_ids=[review.id], include_imported=False))
    return [{key: pair[key] for key in ("prompt", "chosen", "rejected")} for pair in candidates.pairs]


def export_preferences(store: Store, review: Review, out_dir: Path) -> tuple[Path, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = preference_pairs(store, review)
    path = out_dir / f"review-{review.id}-preferences.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair, ensure_ascii=False) + "\n")
    return path, len(pairs)
