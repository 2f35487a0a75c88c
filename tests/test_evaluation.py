"""Generation for review, blind pairs, votes and results, through the domain functions with a fake backend
(and one real child-process generation on the tiny model)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from ftstudio.evaluation import report
from ftstudio.evaluation.compare import compare_run, generate_and_review
from ftstudio.evaluation.generations import (DecodingSettings, EvaluationError, generate_answers, parse_prompts,
                                             read_prompt_file)
from ftstudio.evaluation.jobs import SubprocessBackend
from ftstudio.evaluation.review import latest_review, next_pair, sync_pairs, vote, word_diff
from tests.evaluation_fixtures import FakeBackend, finished_run, random_adapter


@pytest.fixture
def reviewed(store, settings, tiny_model_dir, tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    return project, run


def test_outputs_of_base_and_tuned_are_stored_with_their_settings_and_reused(store, settings, reviewed):
    project, run = reviewed
    backend = FakeBackend()
    batch = generate_answers(store, settings, run, backend=backend)
    tests = store.version_rows(run.version_id, "test")
    assert batch.systems == [run.system, "base"] and batch.state == "finished"
    assert batch.created == 2 * len(tests) and batch.reused == 0 and len(batch.generations) == 2 * len(tests)
    first = batch.generations[0]
    assert first.settings["max_new_tokens"] == 128 and first.settings["temperature"] == 0.0
    assert first.settings["precision"] in ("bfloat16", "float32")  # auto, decided for this machine
    assert first.prompt.startswith("<|im_start|>user\n") and first.prompt.endswith("<|im_start|>assistant\n")
    assert first.reference and first.input in {row.input for row in tests}
    assert first.metadata["region"] in ("north", "south")
    payload = batch.to_dict()
    assert set(payload["generations"][0]) >= {"example_id", "system", "prompt", "output", "settings"}
    again = generate_answers(store, settings, run, backend=backend)
    assert again.created == 0 and again.reused == 2 * len(tests) and len(backend.calls) == 1
    sampled = generate_answers(store, settings, run, backend=backend,
                               decoding=DecodingSettings(temperature=0.7, seed=3, max_new_tokens=32))
    assert sampled.created == 2 * len(tests) and sampled.generations[0].settings["seed"] == 3


def test_bad_settings_and_systems_are_refused_in_plain_words(store, settings, reviewed):
    project, run = reviewed
    with pytest.raises(EvaluationError, match="max new tokens must be between 1 and 4096"):
        generate_answers(store, settings, run, decoding=DecodingSettings(max_new_tokens=0), backend=FakeBackend())
    with pytest.raises(EvaluationError, match="No run 'run-99'"):
        generate_answers(store, settings, run, systems=["base", "run-99"], backend=FakeBackend())
    with pytest.raises(EvaluationError, match="at least two systems"):
        generate_answers(store, settings, run, systems=["base"], backend=FakeBackend())
    with pytest.raises(EvaluationError, match="No prompt given"):
        generate_answers(store, settings, run, prompts=["  "], backend=FakeBackend())


def test_typed_and_uploaded_prompts(store, settings, reviewed, tmp_path):
    project, run = reviewed
    assert parse_prompts("one\ntwo\n\n") == ["one", "two"]
    assert parse_prompts("first line\nsecond line\n---\nanother") == ["first line\nsecond line", "another"]
    upload = tmp_path / "prompts.csv"
    upload.write_text("prompt,notes\nWhere is pallet 77?,x\nWhere is pallet 78?,y\n")
    prompts = read_prompt_file(upload)
    batch = generate_answers(store, settings, run, prompts=prompts, backend=FakeBackend(),
                             systems=[run.system, "base", "reference"])
    assert {g.input for g in batch.generations} == set(prompts)
    assert not any(g.system == "reference" for g in batch.generations)  # typed prompts have no reference


def test_a_cancelled_batch_keeps_what_was_generated(store, settings, reviewed):
    project, run = reviewed
    batch = generate_answers(store, settings, run, backend=FakeBackend(batch_size=2, stop_after_batches=1))
    assert batch.state == "cancelled" and batch.created == 2
    resumed = generate_answers(store, settings, run, backend=FakeBackend())
    assert resumed.reused == 2 and resumed.created == len(resumed.generations) - 2


def test_generating_answers_opens_no_review_and_the_comparison_does(store, settings, reviewed):
    project, run = reviewed
    batch = generate_answers(store, settings, run, backend=FakeBackend())
    assert batch.created and store.list_reviews(project.id, run.id) == []
    comparison = compare_run(store, settings, run, backend=FakeBackend())
    assert comparison.batch.reused == batch.created and comparison.batch.created == 0
    assert [review.id for review in store.list_reviews(project.id, run.id)] == [comparison.review.id]
    assert list(comparison.to_dict()) == ["systems", "created", "reused", "state", "review", "generations", "loop",
                                          "left_out_trained", "left_out_reasons", "identical_pairs"]
    assert comparison.to_dict()["review"] == comparison.review.id


def _system_of(store, review, pair_answer: str) -> str:
    return next(g.system for g in store.list_generations(review.project_id, review.settings_key)
                if g.output == pair_answer)


def test_blind_pairs_hide_the_systems_and_each_reviewer_has_a_queue(store, settings, reviewed):
    project, run = reviewed
    batch = generate_and_review(store, settings, run, backend=FakeBackend())
    review = batch.review
    assert latest_review(store, run).id == review.id
    pairs = len(store.review_pairs(review.id))
    assert pairs == len(batch.generations) // 2
    shown = next_pair(store, review, "ana")
    assert next_pair(store, review, "ana").token == shown.token  # a reload resumes the same pair, same sides
    text = json.dumps(asdict(shown))
    for name in ("run-", "base", run.name, "system", "generation", "run 1"):
        assert name not in text
    # Sides are drawn per reviewer: over many reviewers, the tuned answer is sometimes A, sometimes B.
    store.set_review_overlap(review.id, 30)
    review = store.get_review(review.id)
    tuned_first = set()
    for n in range(24):
        pair = next_pair(store, review, f"reviewer-{n}")
        tuned_first.add(_system_of(store, review, pair.answer_a) == run.system)
    assert tuned_first == {True, False}


def test_votes_record_the_pair_not_the_side_and_reveal_identities(store, settings, reviewed):
    project, run = reviewed
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    tuned_wins = 0
    while (pair := next_pair(store, review, "ana")) is not None:
        tuned_is_a = _system_of(store, review, pair.answer_a) == run.system
        revealed = vote(store, pair.token, "ana", "a" if tuned_is_a else "b", score_a=4, score_b="", comment="ok")
        assert revealed.message.startswith("A was " + (f"run {run.id}" if tuned_is_a else "the base model"))
        tuned_wins += 1
    with pytest.raises(EvaluationError, match="no longer waiting for your vote"):
        vote(store, pair.token if pair else "made-up", "ana", "a")
    results = report.human_results(store, review, resamples=500)
    entry = results["human"][f"{run.system} vs base"]
    assert entry["wins"] == tuned_wins and entry["losses"] == 0 and entry["win_rate"] == 1.0
    assert entry["ci_high"] == 1.0 and entry["ci_low"] < 1.0  # four votes leave room for doubt
    ratings = report.ratings_table(store, review)
    assert {r["winner"] for r in ratings} == {run.system}
    assert all((r["score_a"] == 4) == (r["shown_as_A"] == r["system_a"]) for r in ratings)
    preferences = report.preference_pairs(store, review)
    assert len(preferences) == tuned_wins and set(preferences[0]) == {"prompt", "chosen", "rejected"}
    tuned_outputs = {g.output for g in store.list_generations(project.id, review.settings_key, [run.system])}
    assert all(p["chosen"] in tuned_outputs for p in preferences)


def test_overlap_gives_each_pair_to_k_reviewers_and_agreement_is_measured(store, settings, reviewed):
    project, run = reviewed
    review = generate_and_review(store, settings, run, backend=FakeBackend(), overlap=2).review
    assert review.overlap == 2
    for reviewer, pick in (("ana", "a"), ("ben", "a")):
        while (pair := next_pair(store, review, reviewer)) is not None:
            vote(store, pair.token, reviewer, pick)
    assert next_pair(store, review, "cleo") is None  # every pair has its two reviewers
    result = report.human_results(store, review, resamples=200)
    assert result["reviewer_agreement"]["pairs"] == len(store.review_pairs(review.id))
    assert result["reviewer_agreement"]["method"] == "cohen" and result["reviewers"] == ["ana", "ben"]


def test_vote_input_is_checked(store, settings, reviewed):
    project, run = reviewed
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    pair = next_pair(store, review, "ana")
    with pytest.raises(EvaluationError, match="a \\(A is better\\)"):
        vote(store, pair.token, "ana", "maybe")
    with pytest.raises(EvaluationError, match="1 to 5"):
        vote(store, pair.token, "ana", "a", score_a=9)
    with pytest.raises(EvaluationError, match="no longer waiting"):
        vote(store, pair.token, "ben", "a")  # someone else's pair
    with pytest.raises(EvaluationError, match="You are"):
        next_pair(store, review, "  ")


def test_three_systems_get_bradley_terry_scores_and_breakdowns(store, settings, reviewed):
    project, run = reviewed
    review = generate_and_review(store, settings, run, backend=FakeBackend(),
                                 systems=[run.system, "base", "reference"]).review
    while (pair := next_pair(store, review, "ana")) is not None:
        a, b = _system_of(store, review, pair.answer_a), _system_of(store, review, pair.answer_b)
        rank = {run.system: 0, "reference": 1, "base": 2}
        vote(store, pair.token, "ana", "a" if rank[a] < rank[b] else "b")
    results = report.human_results(store, review, resamples=200)
    ratings = {row["system"]: row["rating"] for row in results["bradley_terry"]}
    assert ratings["base"] == pytest.approx(1000) and ratings[run.system] > ratings["reference"] > ratings["base"]
    assert "region" in report.breakdown_fields(store, review)
    by_region = report.breakdown(store, review, "region", resamples=200)
    assert {row.value for row in by_region} <= {"north", "south"} and all(row.win_rate == 1 for row in by_region)


def test_exports_write_csv_parquet_and_dpo_jsonl(store, settings, reviewed, tmp_path):
    import pandas as pd

    project, run = reviewed
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    pair = next_pair(store, review, "ana")
    vote(store, pair.token, "ana", "a")
    pair = next_pair(store, review, "ana")
    vote(store, pair.token, "ana", "tie")
    csv_path = report.export_ratings(store, review, tmp_path / "out", "csv")
    parquet_path = report.export_ratings(store, review, tmp_path / "out", "parquet")
    assert len(pd.read_csv(csv_path)) == 2 and len(pd.read_parquet(parquet_path)) == 2
    path, count = report.export_preferences(store, review, tmp_path / "out")
    assert count == 1 and len(path.read_text().splitlines()) == 1  # the tie is left out


def test_word_diff_marks_what_differs():
    marked = word_diff("In depot 2 today.", "In depot 3 today.")
    assert ("2", "only in A") in marked and ("3", "only in B") in marked
    assert "".join(t for t, tag in marked if tag != "only in B") == "In depot 2 today."


def test_pairs_follow_new_generations(store, settings, reviewed):
    project, run = reviewed
    review = generate_and_review(store, settings, run, backend=FakeBackend(), prompts=["Where is pallet 5?"]).review
    assert len(store.review_pairs(review.id)) == 1
    generate_and_review(store, settings, run, backend=FakeBackend(), prompts=["Where is pallet 5?", "And pallet 6?"])
    assert len(store.review_pairs(review.id)) == 2 and sync_pairs(store, review) == 0


def test_generation_in_a_child_process_switches_one_adapter_on_and_off(store, settings, reviewed, tiny_model_dir,
                                                                      tmp_path):
    project, run = reviewed
    backend = SubprocessBackend(settings.home / "generations", backend="transformers", poll_seconds=0.1, timeout=300)
    seen = []
    # fp32, to compare with the plain model's own fp32 answers below (auto picks bf16 on CPUs that compute it natively)
    batch = generate_and_review(store, settings, run, backend=backend,
                                decoding=DecodingSettings(max_new_tokens=12, batch_size=3, precision="float32"),
                                on_progress=lambda done, total: seen.append((done, total)))
    assert batch.state == "finished" and seen[-1][0] == seen[-1][1] == len(batch.generations)
    outputs = {(g.system, g.item_key): g.output for g in batch.generations}
    items = {g.item_key for g in batch.generations}
    assert any(outputs[(run.system, i)] != outputs[("base", i)] for i in items)  # the adapter is really used
    # The base outputs are the plain model's greedy answers: the adapter was switched off, not merged in.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import torch

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    base = next(g for g in batch.generations if g.system == "base")
    ids = tokenizer(base.prompt, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        plain = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                               eos_token_id=tokenizer.eos_token_id)
    assert tokenizer.decode(plain[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip() == base.output
    log = next((settings.home / "generations").iterdir()) / "worker.log"
    assert "generating" in log.read_text()
