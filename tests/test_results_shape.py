"""`ftstudio report --json` keeps its shape: the keys at every level of Results.to_dict() on a realistic review
(three systems, two reviewers, a pairwise and a single-answer judge), pinned so that scripts reading it keep working."""

from __future__ import annotations

import json

from ftstudio.bench.chat_server import Reply
from ftstudio.evaluation import report
from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.judging import SINGLE, judge_review, make_judge
from ftstudio.evaluation.results import Breakdown, JudgeSummary, RunComparison
from ftstudio.evaluation.review import next_pair, vote
from tests.evaluation_fixtures import FakeBackend, finished_run


def keys_of(value):
    """The keys at every level: a dict's keys in order, a list of dicts by its first element, anything else
    (numbers, text, a list of names) as None."""
    if isinstance(value, dict):
        return {key: keys_of(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [keys_of(value[0])] if value and isinstance(value[0], dict) else None
    return None


PAIR = {"system": None, "against": None, "wins": None, "losses": None, "ties": None, "both_bad": None, "votes": None,
        "win_rate": None, "ci_low": None, "ci_high": None, "tie_rate": None, "verdict": None,
        "more_votes_needed": None}
CONTROLLED = {"system": None, "against": None, "win_rate": None, "lc_win_rate": None, "ci_low": None,
              "ci_high": None, "length_coefficient": None, "n": None}
COMPARED = ["run", "system", "method", "version", "review", "human_votes", "human_win_rate", "human_ci",
            "judge_win_rate", "judge_ci", "judge_lc_win_rate", "judge_kappa", "rougeL", "bleu", "exact_match",
            "accuracy", "macro_f1", "json_valid", "perplexity", "similarity"]
GRADES = {"judge": None, "prompt_version": None, "mode": None, "judgments": None, "invalid": None, "failed": None,
          "systems": [{"system": None, "graded": None, "mean": None, "ci_low": None, "ci_high": None}]}


def expected_keys(systems: list[str]) -> dict:
    pairs = [f"{first} vs {second}" for i, first in enumerate(systems) for second in systems[i + 1:]]
    return {
        "review": None, "run": None, "systems": None, "labels": {name: None for name in systems}, "votes": None,
        "reviewers": None, "human": {key: PAIR for key in pairs},
        "bradley_terry": [{"system": None, "rating": None, "ci_low": None, "ci_high": None, "matches": None}],
        "reviewer_agreement": {"pairs": None, "reviewers": None, "method": None, "kappa": None, "agreement": None},
        "identical_pairs": None, "human_length_controlled": {key: CONTROLLED for key in pairs},
        "judge": {"judge": None, "prompt_version": None, "mode": None, "pairs": None, "judged_pairs": None,
                  "judgments": None, "invalid": None, "failed": None, "position_consistency": None,
                  "wins": {name: None for name in systems}, "ties": None, "win_rates": {key: PAIR for key in pairs},
                  "length_bias": {"judge": {"longer_wins": None, "decisive": None},
                                  "humans": {"longer_wins": None, "decisive": None}, "measure": None},
                  "length_controlled": {key: CONTROLLED for key in pairs}, "single": GRADES,
                  "judges": [{"judge": None, "prompt_version": None, "prompt_digest": None, "judgments": None}]},
        "agreement": {"votes": None, "pairs": None, "agreement": None, "agreement_without_ties": None,
                      "decisive_votes": None, "kappa": None, "kappa_ci_low": None, "kappa_ci_high": None,
                      "confusion": {h: {j: None for j in ("a", "b", "tie")} for h in ("a", "b", "tie")},
                      "trust": None, "meaning": None},
        "disagreements": [{"pair": None, "item_key": None, "gap": None, "input": None, "system_a": None,
                           "system_b": None, "output_a": None, "output_b": None, "people": None, "judge": None,
                           "judge_orders": None, "judge_reason": None}],
        "metrics": None}


def test_the_report_json_keeps_its_keys_at_every_level(store, settings, tiny_model_dir, tmp_path, chat_server):
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    review = generate_and_review(store, settings, run, backend=FakeBackend(),
                                 systems=[run.system, "base", "reference"]).review
    for reviewer, choices in (("ana", "aab"), ("ben", "abt")):
        voted = 0
        while (pair := next_pair(store, review, reviewer)) is not None:
            vote(store, pair.token, reviewer, choices[voted % len(choices)])
            voted += 1

    def respond(body, before):
        text = body["messages"][-1]["content"]
        return Reply("Clear enough. Rating: [[7]]" if "Rating" in json.dumps(body) else
                     ("[[A]]" if len(text) % 3 else "[[B]]"))

    server = chat_server(respond)
    judge_review(store, review, make_judge(settings, server.url, "judge-1"))
    judge_review(store, review, make_judge(settings, server.url, "judge-1"), mode=SINGLE)
    results = report.full_results(store, review)
    assert results.errors == {}
    results.comparison = report.compare_runs(store, [run])  # what --compare and --by add
    results.breakdown = Breakdown("region", report.breakdown(store, review, "region", resamples=100))
    payload = json.loads(json.dumps(results.to_dict()))
    assert payload["disagreements"] and payload["judge"]["single"]["systems"]  # every part has something to pin
    shape = keys_of(payload)
    assert shape.pop("comparison") == [{key: None for key in COMPARED}]
    assert shape.pop("breakdown") == {"field": None, "rows": [{"value": None, **{key: None for key in list(PAIR)[2:]}}]}
    metrics = shape.pop("metrics")
    assert metrics and {"system", "label", "split"} <= set(metrics[0])
    expected = expected_keys(review.systems)
    expected.pop("metrics")
    assert shape == expected
    assert list(shape) == list(expected)  # and in the same order


def test_parts_a_run_or_judge_lacks_are_left_out_as_before():
    unreviewed = RunComparison(run=2, system="run-2", method="lora", version=None, review=None)
    assert list(unreviewed.to_dict()) == COMPARED[:5]
    grader = JudgeSummary("judge-1", "v1", "single")  # graded answers one at a time, compared no pair
    assert list(grader.to_dict()) == ["judge", "prompt_version", "mode", "single", "judges"]
