"""What a review's queue holds and what its Results survive: identical answers (never put to people, counted as
ties), the reference as a contestant (never shown as context), inputs a run trained on (never paired, and said),
and partial data (pairs without a judge verdict, a system without votes, one vote) in every Results figure."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from ftstudio.bench.chat_server import Reply
from ftstudio.evaluation import report
from ftstudio.evaluation.compare import compare_run, generate_and_review, review_queue
from ftstudio.evaluation.judging import judge_review, make_judge, review_generations
from ftstudio.evaluation.loop import loop_systems
from ftstudio.evaluation.review import next_pair, vote
from ftstudio.evaluation.stats import PairCounts, length_controlled_win_rate, win_rate
from ftstudio.training.config import TrainConfig
from ftstudio.training.folders import write_status
from ftstudio.training.manager import RunManager
from tests.evaluation_fixtures import FakeBackend, finished_run, random_adapter

SAME_ON = 2  # the first inputs every system answers with the same words


class SameOnSomeBackend(FakeBackend):
    """Like FakeBackend, but every system gives the same answer to the first SAME_ON prompts it is asked."""

    def generate(self, base_model_path, adapters, requests, settings, on_results, should_stop=lambda: False,
                 on_started=None):
        prompts = sorted({r["prompt"] for r in requests})[:SAME_ON]
        results = [{"cache_key": r["cache_key"], "seconds": 0.01,
                    "output": "The same  answer." if r["prompt"] in prompts else f"Answer {n} by {r['system']}."}
                   for n, r in enumerate(requests)]
        on_results(results)
        return "finished"


def cli(home, *args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(home), *args], input=stdin,
                          capture_output=True, text=True, timeout=300)


def vote_all(store, review, reviewer: str, choice: str = "a", limit: int | None = None) -> int:
    votes = 0
    while (limit is None or votes < limit) and (pair := next_pair(store, review, reviewer)) is not None:
        vote(store, pair.token, reviewer, choice)
        votes += 1
    return votes


def test_identical_answers_are_not_queued_and_count_as_ties(store, settings, tiny_model_dir, tmp_path):
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    review = generate_and_review(store, settings, run, backend=SameOnSomeBackend()).review
    answers = review_generations(store, review)
    inputs = {g.item_key for g in answers.values()}
    pairs = store.review_pairs(review.id)
    assert len(pairs) == len(inputs) - SAME_ON
    assert all(answers[p.generation_a].output != answers[p.generation_b].output for p in pairs)
    assert len(review_queue(store, review).identical) == SAME_ON
    vote_all(store, review, "ana", "a")
    results = report.human_results(store, review, resamples=200)
    entry = results["human"][f"{run.system} vs base"]
    assert entry["ties"] == SAME_ON and results["identical_pairs"] == SAME_ON and results["votes"] == len(pairs)
    assert all(p["chosen"] != p["rejected"] for p in report.preference_pairs(store, review))


def test_results_survive_identical_answers_a_judge_and_partial_votes(store, settings, tiny_model_dir, tmp_path,
                                                                   chat_server):
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    review = generate_and_review(store, settings, run, backend=SameOnSomeBackend(),
                                 systems=[run.system, "base", "reference"]).review
    answers = review_generations(store, review)
    # A review queued before identical answers were kept from people: votes on a pair both orders never judged.
    by_item: dict[str, dict] = {}
    for generation in answers.values():
        by_item.setdefault(generation.item_key, {})[generation.system] = generation
    same = [(key, found[run.system].id, found["base"].id, 0.0) for key, found in by_item.items()
            if found[run.system].output == found["base"].output]
    assert len(same) == SAME_ON and store.add_review_pairs(review.id, same) == SAME_ON
    vote_all(store, review, "ana", "a", limit=len(store.review_pairs(review.id)))

    def respond(body, before):  # no usable verdict on some pairs: they stay without one
        text = body["messages"][-1]["content"]
        return Reply("I cannot tell." if "pallet 1" in text else "[[A]]")

    judge_review(store, review, make_judge(settings, chat_server(respond).url, "judge-1"))
    results = report.full_results(store, review)
    assert results.errors == {}
    assert results.agreement is not None and results.judge.judged_pairs > 0
    assert all(row.gap >= 0 for row in results.disagreements)
    payload = results.to_dict()
    assert {"human", "judge", "agreement", "disagreements", "metrics", "labels", "votes"} <= set(payload)
    json.dumps(payload)

    votes = len(store.list_ratings(review.id))
    store.close()
    reported = cli(settings.home, "report", "--run", str(run.id), "--json")
    assert reported.returncode == 0, reported.stderr[-2000:]
    assert json.loads(reported.stdout)["votes"] == votes
    reviewed = cli(settings.home, "review", "--run", str(run.id), "--user", "ben", stdin="q\n")
    assert reviewed.returncode == 0 and "word for word the same" in reviewed.stdout


def test_results_with_one_vote_and_a_system_without_votes(store, settings, tiny_model_dir, tmp_path):
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    review = generate_and_review(store, settings, run, backend=FakeBackend(),
                                 systems=[run.system, "base", "reference"]).review
    empty = report.full_results(store, review)
    assert empty.errors == {} and empty.votes == 0
    vote_all(store, review, "ana", "b", limit=1)
    results = report.full_results(store, review)
    assert results.errors == {} and results.votes == 1
    assert sum(entry.votes for entry in results.human.values()) == 1  # two pairs of systems have no vote
    assert all(row.rating is not None for row in results.bradley_terry)
    store.close()
    reported = cli(settings.home, "report", "--run", str(run.id), "--json")
    assert reported.returncode == 0, reported.stderr[-2000:]
    assert json.loads(reported.stdout)["votes"] == 1 and "errors" not in json.loads(reported.stdout)


def test_the_reference_as_a_contestant_is_never_shown_as_context(store, settings, tiny_model_dir, tmp_path):
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    review = generate_and_review(store, settings, run, backend=FakeBackend(),
                                 systems=[run.system, "base", "reference"]).review
    seen = 0
    while (pair := next_pair(store, review, "ana")) is not None:
        assert pair.reference is None
        vote(store, pair.token, "ana", "tie")
        seen += 1
    assert seen == len(store.review_pairs(review.id)) > 0
    plain = generate_and_review(store, settings, run, backend=FakeBackend()).review
    assert next_pair(store, plain, "ben").reference  # without the reference competing, it is context


def test_judge_without_a_decisive_verdict_and_an_even_split_say_so():
    assert length_controlled_win_rate([0.5] * 6, [3, -2, 5, 0, 1, -4])["lc_win_rate"] is None
    from ftstudio.evaluation.results import JudgeSummary, LengthControlled, PairWinRate, Results
    from ftstudio.ui.results_view import judge_frame

    results = Results(1, 1, ["run-1", "base"], {"run-1": "run 1", "base": "base model"}, judge=JudgeSummary(
        "judge-1", "v1", "pairwise", pairwise=True,
        win_rates={"run-1 vs base": PairWinRate("run-1", "base", wins=0, losses=0, ties=6)},
        length_controlled={"run-1 vs base": LengthControlled(
            "run-1", "base", **length_controlled_win_rate([0.5] * 6, [3, -2, 5, 0, 1, -4]))}))
    assert "no decisive verdict" in judge_frame(results).iloc[0].tolist()
    wide = win_rate(PairCounts(wins=7, losses=7)).verdict
    assert "unlikely" not in wide and "more votes" in wide
    assert "unlikely to separate" in win_rate(PairCounts(wins=400, losses=400)).verdict


def dpo_on_some_test_prompts(store, settings, tiny_model_dir, tmp_path, voted: int = 3):
    """A finished run, a DPO run started from it on preference pairs voted on `voted` of its test prompts."""
    from ftstudio.evaluation.preference_pairs import PreferenceFilters, freeze_preferences
    from ftstudio.versions import SplitPlan

    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    test_review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    vote_all(store, test_review, "cleo", "a", limit=voted)
    version = freeze_preferences(store, project, PreferenceFilters(review_ids=[test_review.id]),
                                 SplitPlan((1.0, 0.0, 0.0)), name="on-test")
    manager = RunManager(store, settings)
    config = TrainConfig(objective="dpo", max_steps=1, from_run=run.id, eval_steps=0)
    dpo = store.get_run(manager.create_run(project, version.name, config, check_memory=False, queue=False))
    random_adapter(tiny_model_dir, Path(dpo.run_dir) / "adapter", seed=dpo.id)
    write_status(Path(dpo.run_dir), "finished", step=1, max_steps=1)
    store.update_run(dpo.id, status="finished", step=1, max_steps=1, finished_at=datetime.now())
    tests = len(store.version_rows(run.version_id, "test"))
    return project, run, store.get_run(dpo.id), tests


def test_the_loop_after_an_ordinary_review_leaves_out_what_the_run_trained_on(store, settings, tiny_model_dir,
                                                                            tmp_path):
    project, run, dpo, tests = dpo_on_some_test_prompts(store, settings, tiny_model_dir, tmp_path)
    ordinary = compare_run(store, settings, dpo, [dpo.system, "base"], backend=FakeBackend())
    assert not ordinary.loop and len(ordinary.left_out) == 3
    assert len(store.review_pairs(ordinary.review.id)) == tests - 3
    assert "3 prompts left out" in " ".join(ordinary.notes())
    plain = generate_and_review(store, settings, dpo, [dpo.system, "base"], backend=FakeBackend()).review
    assert len(store.review_pairs(plain.id)) == tests - 3  # however the review is built
    looped = compare_run(store, settings, dpo, backend=FakeBackend())
    assert looped.loop and looped.batch.systems == [dpo.system, run.system, "base"]
    assert len(store.review_pairs(looped.review.id)) == 3 * (tests - 3)
    assert "trained on their preference pairs" in " ".join(looped.notes())


def test_the_loop_alone_and_the_review_tab_defaults_to_it(store, settings, tiny_model_dir, tmp_path):
    from ftstudio.ui.review_tab import system_choices

    project, run, dpo, tests = dpo_on_some_test_prompts(store, settings, tiny_model_dir, tmp_path)
    looped = compare_run(store, settings, dpo, backend=FakeBackend())
    assert looped.loop and len(store.review_pairs(looped.review.id)) == 3 * (tests - 3)
    assert looped.to_dict()["left_out_trained"] == 3
    _, default = system_choices(store, store.list_runs(project.id), str(dpo.id))
    assert default == loop_systems(store, dpo)
    # The train split is offered for preference votes: the run's own training prompts, paired on purpose.
    train = compare_run(store, settings, run, split="train", backend=FakeBackend())
    train_keys = {f"example:{row.example_id}" for row in store.version_rows(run.version_id, "train")}
    assert not train.left_out and train_keys <= {pair.item_key for pair in store.review_pairs(train.review.id)}
    assert any("preference data" in note for note in train.notes())


def test_votes_on_train_prompts_never_join_the_review_that_grades_the_run(store, settings, tiny_model_dir, tmp_path):
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    graded = compare_run(store, settings, run, backend=FakeBackend())
    for_preferences = compare_run(store, settings, run, split="train", backend=FakeBackend())
    assert graded.review.id != for_preferences.review.id
    test_keys = {f"example:{row.example_id}" for row in store.version_rows(run.version_id, "test")}
    train_keys = {f"example:{row.example_id}" for row in store.version_rows(run.version_id, "train")}
    assert {pair.item_key for pair in store.review_pairs(graded.review.id)} == test_keys
    assert {pair.item_key for pair in store.review_pairs(for_preferences.review.id)} == train_keys
    again = compare_run(store, settings, run, backend=FakeBackend())  # the graded review is found again, unchanged
    assert again.review.id == graded.review.id
    assert {pair.item_key for pair in store.review_pairs(again.review.id)} == test_keys


def test_results_grade_a_run_on_its_held_out_review_not_on_preference_votes(store, settings, tiny_model_dir,
                                                                           tmp_path):
    from ftstudio.evaluation.review import latest_review, newest_review, preference_data_note

    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    for_preferences = compare_run(store, settings, run, split="train", backend=FakeBackend()).review
    assert latest_review(store, run).id == for_preferences.id  # the only review: shown, and said what it is
    assert "preference data" in preference_data_note(latest_review(store, run))
    graded = compare_run(store, settings, run, backend=FakeBackend()).review
    again = compare_run(store, settings, run, split="train", backend=FakeBackend()).review
    assert again.id == for_preferences.id and newest_review(store, run).id == for_preferences.id
    assert latest_review(store, run).id == graded.id and preference_data_note(graded) is None
    store.close()  # the CLI is the writer now, as when no app is running
    report_text = subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(settings.home), "report",
                                  "--run", str(run.id)], capture_output=True, text=True, timeout=300)
    assert f"review {graded.id}," in report_text.stdout, report_text.stderr[-2000:]
