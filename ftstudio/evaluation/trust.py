"""How far the judge can be trusted on this project's own data: its agreement with people on the pairs both rated
(with and without ties, Cohen's kappa with its interval, the confusion table), its position consistency, whether
it favours longer answers more than people do, length-controlled win rates, and the pairs where it and people
disagree most, to read.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from ftstudio.evaluation.results import Disagreement, JudgeAgreement, LengthBias, LengthControlled, LongerWins
from ftstudio.evaluation.review import system_labels
from ftstudio.evaluation.stats import kappa_with_interval, length_controlled_win_rate
from ftstudio.evaluation.verdicts import PairVerdict
from ftstudio.store import Generation, Rating, Review, Store

CATEGORIES = ["a", "b", "tie"]
# Below this many shared items, no figure of agreement is worth a decision.
MIN_SHARED = 10
# Position consistency below this is worse than GPT-4 showed on MT-Bench (65%): the judge mostly follows the order.
MIN_CONSISTENCY = 0.65
SCORE = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}


def _human(winner: str) -> str:
    """People's four choices on the judge's three: both bad is no preference either way."""
    return "tie" if winner == "both_bad" else winner


def _shared(verdicts: list[PairVerdict], ratings: list[Rating]) -> list[tuple[Rating, PairVerdict]]:
    by_pair = {v.pair.id: v for v in verdicts if v.combined is not None}
    return [(rating, by_pair[rating.pair_id]) for rating in ratings if rating.pair_id in by_pair]


def trust_verdict(shared: int, kappa: float | None, ci_high: float | None, consistency: float | None,
                  one_verdict: str | None = None, agreement: float | None = None,
                  judged: int | None = None) -> tuple[str, str]:
    """(level, what it means for a product owner): untested, untrusted, weak, moderate or good.

    `one_verdict` names the only verdict the judge ever gave, when it gave one only: then its raw agreement is
    what always guessing that verdict would score, and kappa says so (0). `judged` is how many pairs have a usable
    judge verdict at all."""
    if judged == 0:
        return "untested", ("The judge has no usable verdict on this review yet: judge it (Judge tab or "
                            "`ftstudio judge`). If its answers come back invalid, it cannot follow the verdict "
                            "format: try a larger judge model or an endpoint.")
    if shared < MIN_SHARED:
        return "untested", (f"Only {shared} vote{'s' if shared != 1 else ''} can be compared with the judge's verdicts: "
                            f"too few to tell whether the judge can be trusted on this data. Rate at least "
                            f"{MIN_SHARED} pairs it judged.")
    notes = ""
    if consistency is not None and consistency < MIN_CONSISTENCY:
        notes = (f" It also keeps its verdict when the answers swap places in only {consistency:.0%} of pairs: "
                 "its verdicts follow the order more than the answers.")
    if one_verdict is not None:
        agreed = f" agrees {agreement:.0%} of the time, but" if agreement is not None else ""
        return "untrusted", (f"Do not trust the judge on this data: it{agreed} gave the same verdict ({one_verdict}) on "
                             "every pair, so it tells nothing apart that always guessing would not (Cohen's kappa "
                             "0). Use human votes, or try a stronger judge or a clearer rubric." + notes)
    if kappa is None or kappa < 0.2 or (ci_high is not None and ci_high < 0.4):
        return "untrusted", ("Do not trust the judge on this data: it agrees with people barely more than chance "
                             f"(Cohen's kappa {kappa if kappa is not None else float('nan'):.2f}). Use human votes, or "
                             "try a stronger judge or a clearer rubric." + notes)
    if kappa < 0.4:
        return "weak", (f"The judge agrees with people only weakly (Cohen's kappa {kappa:.2f}): use its verdicts with "
                        "caution, and keep people reviewing." + notes)
    if kappa < 0.6:
        return "moderate", (f"The judge agrees with people moderately (Cohen's kappa {kappa:.2f}): its overall win "
                            "rates are a fair guide; read the pairs where it disagrees." + notes)
    return "good", (f"The judge agrees with people well (Cohen's kappa {kappa:.2f}): it can scale review on this "
                    "data, with people spot-checking." + notes)


def judge_agreement(verdicts: list[PairVerdict], ratings: list[Rating],
                    consistency: float | None = None) -> JudgeAgreement:
    """Agreement on every human vote whose pair has a combined judge verdict (one row per vote)."""
    shared = _shared(verdicts, ratings)
    humans = [_human(rating.winner) for rating, _ in shared]
    judge = [verdict.combined for _, verdict in shared]
    decisive = [(h, j) for h, j in zip(humans, judge) if h != "tie" and j != "tie"]
    kappa, low, high = kappa_with_interval(humans, judge, CATEGORIES)
    confusion = {h: {j: 0 for j in CATEGORIES} for h in CATEGORIES}
    for h, j in zip(humans, judge):
        confusion[h][j] += 1
    said = set(judge)
    only = {"a": "the first system", "b": "the second system", "tie": "a tie"}[next(iter(said))] if len(said) == 1 else None
    observed = (sum(h == j for h, j in zip(humans, judge)) / len(shared)) if shared else None
    judged = sum(verdict.combined is not None for verdict in verdicts)
    level, meaning = trust_verdict(len(shared), kappa, high, consistency, only, observed, judged)
    return JudgeAgreement(
        votes=len(shared), pairs=len({verdict.pair.id for _, verdict in shared}), agreement=observed,
        agreement_without_ties=(sum(h == j for h, j in decisive) / len(decisive)) if decisive else None,
        decisive_votes=len(decisive), kappa=kappa, kappa_ci_low=low, kappa_ci_high=high, confusion=confusion,
        trust=level, meaning=meaning)


def judge_human_agreement(verdicts: list[PairVerdict], ratings: list[Rating], consistency: float | None = None) -> dict:
    """judge_agreement() as a dict (the preference-pair filters read its kappa and votes)."""
    return judge_agreement(verdicts, ratings, consistency).to_dict()


def _longer_wins(rows: list[tuple[Generation, Generation, str]]) -> LongerWins:
    """How often the longer answer wins, over decisive verdicts between answers of different length."""
    counted = [(first, second, winner) for first, second, winner in rows
               if winner in ("a", "b") and len(first.output) != len(second.output)]
    longer = sum((winner == "a") == (len(first.output) > len(second.output)) for first, second, winner in counted)
    return LongerWins((longer / len(counted)) if counted else None, len(counted))


def length_bias(verdicts: list[PairVerdict], ratings: list[Rating], generations: dict[int, Generation]) -> LengthBias:
    """The share of decisive verdicts that went to the longer answer, for the judge and for people."""
    judge_rows = [(v.first, v.second, v.combined) for v in verdicts if v.combined is not None]
    human_rows = [(generations[r.generation_a], generations[r.generation_b], r.winner) for r in ratings
                  if r.generation_a in generations and r.generation_b in generations]
    return LengthBias(judge=_longer_wins(judge_rows), humans=_longer_wins(human_rows), measure="characters")


def length_controlled(review: Review, labels: dict[str, str],
                      rows: list[tuple[Generation, Generation, str]]) -> dict[str, LengthControlled]:
    """Per pair of systems: the plain win rate (ties as half) and the win rate at equal length, with its interval."""
    by_systems: dict[tuple[str, str], list] = defaultdict(list)
    for first, second, winner in rows:
        by_systems[(first.system, second.system)].append((SCORE[winner], len(first.output) - len(second.output)))
    table = {}
    for index, first in enumerate(review.systems):
        for second in review.systems[index + 1:]:
            points = by_systems.get((first, second), [])
            result = length_controlled_win_rate([p[0] for p in points], [p[1] for p in points])
            table[f"{first} vs {second}"] = LengthControlled(first, second, **result)
    return table


def disagreements(store: Store, review: Review, verdicts: list[PairVerdict], ratings: list[Rating],
                  limit: int = 25) -> list[Disagreement]:
    """The pairs where the judge's verdict is furthest from people's, most first: to read, and to fix the rubric."""
    labels = system_labels(store, review)
    by_pair: dict[int, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_pair[rating.pair_id].append(rating)
    rows = []
    for verdict in verdicts:
        votes = by_pair.get(verdict.pair.id)
        if not votes or verdict.combined is None:
            continue
        human = sum(SCORE[r.winner] for r in votes) / len(votes)
        # Identical answers are never sent to the judge: both orders are empty and the combined verdict (a tie) counts.
        judged = [SCORE[o] for o in verdict.orders if o is not None] or [SCORE[verdict.combined]]
        gap = abs(human - sum(judged) / len(judged))
        if gap == 0:
            continue
        name = {"a": labels[verdict.first.system], "b": labels[verdict.second.system], "tie": "tie",
                "both_bad": "both bad"}
        counted = Counter(name[r.winner] for r in votes)
        rows.append(Disagreement(
            pair=verdict.pair.id, item_key=verdict.pair.item_key, gap=round(gap, 3), input=verdict.first.input,
            system_a=labels[verdict.first.system], system_b=labels[verdict.second.system],
            output_a=verdict.first.output, output_b=verdict.second.output,
            people=", ".join(f"{n}× {choice}" for choice, n in counted.most_common()),
            judge=name[verdict.combined], judge_orders=" / ".join(name[o] if o else "–" for o in verdict.orders),
            judge_reason=((verdict.in_order.raw if verdict.in_order else "") or "")[:1500]))
    rows.sort(key=lambda row: (-row.gap, row.pair))
    return rows[:limit]
