"""The Results view's panels: each computed on its own, so one that fails shows its own message and the others
still show their figures."""

import pandas as pd

from ftstudio.evaluation.results import JudgeSummary, PairWinRate, Results, ReviewerAgreement
from ftstudio.ui.results_view import empty_panels, panels


def test_one_failing_panel_never_blanks_the_others():
    human = {"run-1 vs base": PairWinRate("run-1", "base", wins=3, losses=1, ties=0, both_bad=0, votes=4,
                                          win_rate=0.75, ci_low=0.4, ci_high=0.95, tie_rate=0.0,
                                          verdict="Too close to call.", more_votes_needed=9)}
    # A judge whose only win rate is missing: its own table cannot be drawn.
    broken_judge = JudgeSummary("judge-1", "v1", "pairwise", pairwise=True, judged_pairs=2,
                                win_rates={"run-1 vs base": None})
    results = Results(1, 1, ["run-1", "base"], {"run-1": "run 1 (lora on v1)", "base": "base model"}, votes=4,
                      reviewers=["ana"], human=human, reviewer_agreement=ReviewerAgreement(), judge=broken_judge)
    shown = panels(results, lambda: ["label"])
    assert set(shown) == set(empty_panels("x"))
    assert "could not be computed" in " ".join(shown["judge_table"].columns)  # the broken panel says so
    assert "could not be computed" in shown["verdict"]
    table = shown["win_table"]
    assert isinstance(table, pd.DataFrame) and table.iloc[0]["win rate"] == "75%"  # the others still show
    assert "judge-1" in shown["judge_summary"] and "could not" not in shown["judge_summary"]
    assert shown["field"]["choices"] == ["label"]


def test_the_report_json_keeps_its_shape_and_adds_parts_only_when_present():
    results = Results(1, 1, ["run-1", "base"], {"run-1": "run 1", "base": "base model"})
    payload = results.to_dict()
    assert list(payload) == ["review", "run", "systems", "labels", "votes", "reviewers", "human", "bradley_terry",
                             "reviewer_agreement", "identical_pairs", "human_length_controlled", "judge",
                             "agreement", "disagreements", "metrics"]
    results.classification = {"accuracy": 1.0}
    assert results.to_dict()["classification"] == {"accuracy": 1.0} and results.to_dict()["votes"] == 0


def test_with_no_judge_verdicts_the_headline_says_identical_pairs_need_none():
    from ftstudio.ui.results_view import verdict_markdown

    results = Results(1, 1, ["run-1", "base"], {"run-1": "run 1", "base": "base model"}, identical_pairs=3)
    assert "3 pairs with identical answers need none: they are ties" in verdict_markdown(results)
    assert "No judge verdicts on these answers yet:" in verdict_markdown(
        Results(1, 1, ["run-1", "base"], {"run-1": "run 1", "base": "base model"}))
