"""Win rates, their bootstrap intervals and Bradley-Terry scores against cases whose answer is known."""

import math

import pytest

from ftstudio.evaluation.stats import PairCounts, bootstrap_win_rate, bradley_terry, votes_to_decide, win_rate


def test_the_bootstrap_interval_matches_the_binomial_one_on_many_votes():
    counts = PairCounts(wins=280, losses=120)  # p = 0.7 over 400 decisive votes
    rate, low, high = bootstrap_win_rate(counts, resamples=4000, seed=1)
    half_width = 1.96 * math.sqrt(0.7 * 0.3 / 400)  # the normal approximation is close at n = 400
    assert rate == pytest.approx(0.7)
    assert low == pytest.approx(0.7 - half_width, abs=0.01) and high == pytest.approx(0.7 + half_width, abs=0.01)


def test_ties_widen_nothing_but_are_left_out_of_the_rate():
    rate, low, high = bootstrap_win_rate(PairCounts(wins=30, losses=10, ties=60), seed=0)
    assert rate == 0.75 and low < 0.75 < high
    assert bootstrap_win_rate(PairCounts(ties=5)) == (None, None, None)


def test_a_handful_of_one_sided_votes_does_not_call_a_winner():
    # 3 wins in 3 votes: a plain bootstrap would say 100%-100%; the exact (Clopper-Pearson) interval is 29%-100%.
    rate, low, high = bootstrap_win_rate(PairCounts(wins=3), seed=0)
    assert rate == 1.0 and high == 1.0 and low <= 0.5
    assert win_rate(PairCounts(wins=3), "tuned", "base").verdict.startswith("Too close to call")
    rate, low, high = bootstrap_win_rate(PairCounts(wins=30), seed=0)
    assert low > 0.85  # thirty votes all one way do settle it


def test_the_bootstrap_is_seeded():
    counts = PairCounts(wins=12, losses=7, ties=3, both_bad=1)
    assert bootstrap_win_rate(counts, seed=3) == bootstrap_win_rate(counts, seed=3)


def test_a_verdict_in_words_and_how_many_more_votes_would_settle_it():
    clear = win_rate(PairCounts(wins=40, losses=10), "tuned", "base")
    assert clear.verdict.startswith("tuned is better than base") and clear.more_votes_needed is None
    worse = win_rate(PairCounts(wins=5, losses=30), "tuned", "base")
    assert worse.verdict.startswith("base is better than tuned")
    close = win_rate(PairCounts(wins=6, losses=4, ties=2), "tuned", "base")
    assert close.verdict.startswith("Too close to call") and close.more_votes_needed > 0
    # With the same split at that many more votes, the interval no longer spans 50%.
    more = close.more_votes_needed
    scale = (12 + more) / 12
    grown = PairCounts(round(6 * scale), round(4 * scale), round(2 * scale))
    assert win_rate(grown).ci_low > 0.5 - 0.02
    assert votes_to_decide(PairCounts(wins=5, losses=5), 0.2, 0.8) is None  # dead even: votes will not split them


def test_bradley_terry_orders_systems_and_anchors_the_base():
    # b beats base 3 times in 4, c beats b 3 times in 4: ratings must come out base < b < c.
    matches = ([("b", "base", 1.0)] * 30 + [("b", "base", 0.0)] * 10 + [("c", "b", 1.0)] * 30 +
               [("c", "b", 0.0)] * 10 + [("c", "base", 0.5)] * 4)
    table = {row["system"]: row for row in bradley_terry(matches, ["base", "b", "c"], anchor="base", resamples=300)}
    assert table["base"]["rating"] == pytest.approx(1000.0)
    assert table["base"]["rating"] < table["b"]["rating"] < table["c"]["rating"]
    # 3:1 odds are 400*log10(3) = 191 Elo points.
    assert table["b"]["rating"] - 1000 == pytest.approx(191, abs=40)
    assert table["b"]["ci_low"] < table["b"]["rating"] < table["b"]["ci_high"]
