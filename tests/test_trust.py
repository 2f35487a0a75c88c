"""How far a judge can be trusted: kappa and its interval, the length-controlled win rate on known cases, and
agreement with people's votes on a review (confusion table, disagreements, the verdict in words)."""

from __future__ import annotations

import numpy as np
import pytest

from ftstudio.bench.chat_server import Reply
from ftstudio.evaluation import report
from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.judging import judge_review, make_judge, review_generations
from ftstudio.evaluation.review import next_pair, vote
from ftstudio.evaluation.stats import kappa_with_interval, length_controlled_win_rate
from ftstudio.evaluation.trust import trust_verdict
from tests.evaluation_fixtures import FakeBackend, finished_run


def test_kappa_matches_a_hand_computed_case_and_its_interval_brackets_it():
    # 10 items; observed agreement 7/10. Marginals: first a5 b4 t1, second a4 b4 t2 -> expected (20+16+2)/100 = 0.38.
    first = ["a", "a", "b", "b", "tie", "a", "b", "a", "a", "b"]
    second = ["a", "b", "b", "b", "tie", "a", "a", "a", "tie", "b"]
    kappa, low, high = kappa_with_interval(first, second, ["a", "b", "tie"])
    assert kappa == pytest.approx((0.7 - 0.38) / (1 - 0.38))
    assert low < kappa < high and -1 <= low and high <= 1
    perfect = kappa_with_interval(["a", "b"] * 10, ["a", "b"] * 10, ["a", "b", "tie"])
    assert perfect[0] == pytest.approx(1.0) and perfect[1] == pytest.approx(1.0)
    assert kappa_with_interval([], [], ["a", "b"]) == (None, None, None)


def test_the_length_controlled_win_rate_recovers_a_known_model_and_discounts_a_length_only_judge():
    rng = np.random.default_rng(7)
    difference = rng.normal(0, 120, 4000)
    feature = np.tanh(difference / difference.std())
    # Known model: the system is better at equal length (intercept 0.5) and length helps (slope 2).
    wins = (rng.random(4000) < 1 / (1 + np.exp(-(0.5 + 2 * feature)))).astype(float)
    known = length_controlled_win_rate(list(wins), list(difference))
    assert known["lc_win_rate"] == pytest.approx(1 / (1 + np.exp(-0.5)), abs=0.03)
    assert known["length_coefficient"] == pytest.approx(2.0, abs=0.25)
    assert known["ci_low"] < known["lc_win_rate"] < known["ci_high"]
    # A judge that only follows length, with a system that is longer 80% of the time: the plain win rate is high,
    # the length-controlled one near 50%.
    longer = np.where(rng.random(4000) < 0.8, 1, -1) * np.abs(rng.normal(100, 30, 4000))
    verdicts = (rng.random(4000) < 1 / (1 + np.exp(-3 * np.tanh(longer / longer.std())))).astype(float)
    biased = length_controlled_win_rate(list(verdicts), list(longer))
    assert biased["win_rate"] > 0.65 and biased["lc_win_rate"] == pytest.approx(0.5, abs=0.06)


def test_the_trust_verdict_says_when_not_to_trust_the_judge():
    assert trust_verdict(4, 0.9, 1.0, 1.0)[0] == "untested"
    assert "no usable verdict" in trust_verdict(0, None, None, None, judged=0)[1]
    level, meaning = trust_verdict(40, 0.05, 0.3, 0.9)
    assert level == "untrusted" and "Do not trust the judge" in meaning
    assert trust_verdict(40, 0.5, 0.7, 0.9)[0] == "moderate"
    level, meaning = trust_verdict(40, 0.8, 0.9, 0.5)
    assert level == "good" and "50% of pairs" in meaning


@pytest.fixture
def voted_review(store, settings, tiny_model_dir, tmp_path):
    """A review of 12 test inputs; ana prefers the tuned answer except on two pairs, where she picks base."""
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=60)
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    generations = review_generations(store, review)
    tuned = {g.output for g in generations.values() if g.system == run.system}
    picks_base = {p.id for p in store.review_pairs(review.id)[:2]}
    while (pair := next_pair(store, review, "ana")) is not None:
        assignment = store.get_assignment(pair.token)
        choice_tuned = "a" if pair.answer_a in tuned else "b"
        choice = ({"a": "b", "b": "a"}[choice_tuned] if assignment.pair_id in picks_base else choice_tuned)
        vote(store, pair.token, "ana", choice)
    return review, tuned, picks_base


def test_agreement_with_people_confusion_table_and_disagreements(store, settings, voted_review, chat_server):
    review, tuned, picks_base = voted_review

    def respond(body, before):
        text = body["messages"][-1]["content"]
        first = text.split("[Answer A]\n", 1)[1].split("\n\n[Answer B]", 1)[0]
        return Reply("[[A]]" if first in tuned else "[[B]]")  # always the tuned answer, in both orders

    judge_review(store, review, make_judge(settings, chat_server(respond).url, "judge-1"))
    results = report.full_results(store, review)
    agreement = results.agreement
    pairs = len(store.review_pairs(review.id))
    assert agreement.votes == pairs and agreement.decisive_votes == pairs
    assert agreement.agreement == pytest.approx((pairs - 2) / pairs)
    assert agreement.agreement_without_ties == pytest.approx((pairs - 2) / pairs)
    # people said a (tuned) on pairs-2 and b (base) on 2; the judge always a.
    assert agreement.confusion["a"]["a"] == pairs - 2 and agreement.confusion["b"]["a"] == 2
    assert agreement.kappa == pytest.approx(0.0) and agreement.trust == "untrusted"
    assert "same verdict (the first system) on every pair" in agreement.meaning
    assert {row.pair for row in results.disagreements} == picks_base
    row = results.disagreements[0]
    assert row.gap == 1.0 and row.people == "1× base model" and row.judge.startswith("run ")
    judge = results.judge
    assert judge.position_consistency == 1.0 and judge.wins[review.systems[0]] == pairs
    assert set(judge.length_controlled) == {f"{review.systems[0]} vs base"}
    bias = judge.length_bias
    assert bias.judge.decisive <= pairs and bias.humans.decisive <= pairs
    assert results.human[f"{review.systems[0]} vs base"].wins == pairs - 2


def test_runs_are_put_side_by_side_with_their_win_rates_and_metrics(store, settings, tiny_model_dir, tmp_path):
    _, first = finished_run(store, settings, tiny_model_dir, tmp_path)
    _, second = finished_run(store, settings, tiny_model_dir, tmp_path)
    for run in (first, second):
        generate_and_review(store, settings, run, backend=FakeBackend())
    review = store.list_reviews(first.project_id, first.id)[0]
    while (pair := next_pair(store, review, "ana")) is not None:
        vote(store, pair.token, "ana", "a")
    rows = {row.run: row for row in report.compare_runs(store, [first, second])}
    assert rows[first.id].human_votes == len(store.review_pairs(review.id))
    assert rows[first.id].human_ci[0] <= rows[first.id].human_win_rate <= rows[first.id].human_ci[1]
    assert rows[second.id].human_votes == 0 and rows[second.id].human_win_rate is None
    assert rows[first.id].judge_win_rate is None  # no judge yet
    assert all(row.rougeL is not None and row.bleu is not None for row in rows.values())
