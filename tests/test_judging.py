"""LLM-as-a-judge against a real loopback chat-completions server with scripted answers: both orders asked,
retries on 429 and time-outs, invalid verdicts counted, failures stored and retried, the cache, and the key."""

from __future__ import annotations

import json

import pytest

from ftstudio.bench.chat_server import Reply
from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.generations import EvaluationError
from ftstudio.evaluation.judge_prompts import active_prompt, save_prompt
from ftstudio.evaluation.judging import (LocalJudge, judge_review, make_judge, parse_pairwise, parse_rating,
                                         review_generations)
from ftstudio.evaluation.verdicts import pair_verdicts, pairwise_summary, single_summary
from ftstudio.secret_store import JUDGE_KEY, save_secret
from ftstudio.templates import TemplateError
from tests.evaluation_fixtures import FakeBackend, finished_run


@pytest.fixture
def review(store, settings, tiny_model_dir, tmp_path):
    """A run's review of 4 test inputs, answered by the run and the base model (fake answers)."""
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    return generate_and_review(store, settings, run, backend=FakeBackend()).review


def _answers(body: dict) -> tuple[str, str]:
    text = body["messages"][-1]["content"]
    first = text.split("[Answer A]\n", 1)[1].split("\n\n[Answer B]", 1)[0]
    second = text.split("[Answer B]\n", 1)[1].strip()
    return first, second


def _tuned_outputs(store, review) -> set[str]:
    return {g.output for g in review_generations(store, review).values() if g.system.startswith("run-")}


def test_verdicts_are_parsed_in_every_common_form():
    assert parse_pairwise("A is clearer.\n[[A]]") == ("A", None)
    assert parse_pairwise("Not [[A]] at first sight, but in the end: [[B]]") == ("B", None)
    assert parse_pairwise("Equally good. [[C]]") == ("tie", None)
    assert parse_pairwise("[[tie]]") == ("tie", None)
    assert parse_pairwise('{"reason": "shorter and right", "winner": "B"}') == ("B", None)
    assert parse_pairwise('Here: {"verdict": "tie"}') == ("tie", None)
    verdict, why = parse_pairwise("Both answers have merit.")
    assert verdict is None and "[[A]]" in why
    assert parse_rating("Solid answer.\nRating: [[7]]") == (7.0, None)
    assert parse_rating("[[8.5]]") == (8.5, None)
    assert parse_rating('{"score": 6, "why": "ok"}') == (6.0, None)
    assert parse_rating("Rating: [[11]]")[0] is None and "outside 1-10" in parse_rating("Rating: [[11]]")[1]
    assert parse_rating("seven out of ten")[0] is None


def test_pairs_are_judged_in_both_orders_with_retries_invalid_counted_and_a_cache(store, settings, review,
                                                                                  chat_server):
    tuned = _tuned_outputs(store, review)
    pairs = store.review_pairs(review.id)
    generations = review_generations(store, review)
    malformed_input = generations[pairs[0].generation_a].input
    slow_input = generations[pairs[1].generation_a].input
    seen: dict[str, int] = {}

    def respond(body, before):
        text = body["messages"][-1]["content"]
        first, _ = _answers(body)
        if before == 0:
            return Reply("slow down", 429, retry_after="0")
        for marker in (malformed_input, slow_input):
            if f"[Request]\n{marker}\n" in text:
                seen[marker + first] = seen.get(marker + first, 0) + 1
        if f"[Request]\n{malformed_input}\n" in text and first in tuned:
            return Reply("Both answers have their merits.")  # no verdict: invalid
        if f"[Request]\n{slow_input}\n" in text and first in tuned and seen[slow_input + first] == 1:
            return Reply("[[A]]", delay=3.0)  # past the client's time-out: the client retries
        return Reply("The tuned answer is better. [[A]]" if first in tuned else "[[B]]")

    server = chat_server(respond)
    judge = make_judge(settings, server.url, "judge-1", concurrency=4, timeout=1.0, max_retries=3)
    outcome = judge_review(store, review, judge)

    tasks = 2 * len(pairs)
    assert outcome.judgments == tasks and outcome.cached == 0 and outcome.failed == 0
    assert outcome.invalid == 1
    assert outcome.requests == len(server.requests) == tasks + 2  # one 429 and one time-out, both retried
    # Every pair was asked in both orders: each answer was once answer A and once answer B.
    orders = {(_answers(r["body"])) for r in server.requests}
    for pair in pairs:
        a, b = generations[pair.generation_a].output, generations[pair.generation_b].output
        assert (a, b) in orders and (b, a) in orders
    assert all(r["body"]["model"] == "judge-1" and r["body"]["temperature"] == 0 for r in server.requests)

    summary = pairwise_summary(store, review)
    run_system = review.systems[0]
    assert summary["judged_pairs"] == len(pairs) - 1  # the pair with an invalid order has no combined verdict
    assert summary["wins"] == {run_system: len(pairs) - 1, "base": 0} and summary["ties"] == 0
    assert summary["position_consistency"] == 1.0
    entry = summary["win_rates"][f"{run_system} vs base"]
    assert entry["wins"] == len(pairs) - 1 and entry["ci_low"] <= entry["win_rate"] <= entry["ci_high"]
    stored = [v.in_order for v in pair_verdicts(store, review)[0]] + [v.swapped for v in pair_verdicts(store, review)[0]]
    invalid = [j for j in stored if j.status == "invalid"]
    assert len(invalid) == 1 and invalid[0].raw == "Both answers have their merits." and "[[A]]" in invalid[0].error
    assert all(j.judge == "judge-1 @ " + server.url and j.prompt_version == "built-in" for j in stored)

    again = judge_review(store, review, judge)
    assert again.requests == 0 and again.cached == tasks and len(server.requests) == tasks + 2
    retried = judge_review(store, review, judge, retry_invalid=True)
    assert retried.requests == 1 and retried.invalid == 1  # the judge still gives no verdict there


def test_a_failed_request_is_kept_as_failed_and_asked_again_next_time(store, settings, review, chat_server):
    down = {"on": True}

    def respond(body, before):
        return Reply("overloaded", 503) if down["on"] else Reply("[[C]]")

    server = chat_server(respond)
    judge = make_judge(settings, server.url, "judge-1", concurrency=8, timeout=5, max_retries=1)
    first = judge_review(store, review, judge)
    tasks = 2 * len(store.review_pairs(review.id))
    assert first.failed == tasks and first.judgments == 0 and first.requests == 2 * tasks  # one retry each
    stored = store.cursor().execute("SELECT status, error FROM judgments").fetchall()
    assert len(stored) == tasks and all(status == "failed" and "HTTP 503" in error for status, error in stored)
    down["on"] = False
    second = judge_review(store, review, judge)
    assert second.failed == 0 and second.judgments == tasks and second.requests == tasks and second.cached == 0
    summary = pairwise_summary(store, review)
    assert summary["ties"] == len(store.review_pairs(review.id)) and summary["position_consistency"] == 1.0


def test_a_position_biased_judge_gives_ties_and_low_consistency(store, settings, review, chat_server):
    server = chat_server(default=Reply("The first one. [[A]]"))
    outcome = judge_review(store, review, make_judge(settings, server.url, "always-a"))
    summary = pairwise_summary(store, review)
    assert outcome.invalid == 0 and summary["position_consistency"] == 0.0
    assert summary["ties"] == len(store.review_pairs(review.id)) and set(summary["wins"].values()) == {0}


def test_the_key_comes_from_the_secret_store_and_is_never_stored_or_shown(store, settings, review, chat_server,
                                                                          monkeypatch):
    monkeypatch.delenv("FTSTUDIO_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    save_secret(settings.home, JUDGE_KEY, "sk-saved-456")
    server = chat_server([(401, "bad key sk-saved-456")] * 3, default=Reply("[[A]]"))
    judge = make_judge(settings, server.url, "judge-1", max_retries=0)
    outcome = judge_review(store, review, judge)
    assert server.requests[0]["authorization"] == "Bearer sk-saved-456"
    assert outcome.failed == 3
    rows = store.cursor().execute("SELECT * FROM judgments").fetchall()
    assert rows and "sk-saved-456" not in json.dumps(rows, default=str)
    audit = store.cursor().execute("SELECT * FROM audit").fetchall()
    assert "sk-saved-456" not in json.dumps(audit, default=str)
    assert oct((settings.home / "secrets.json").stat().st_mode & 0o777) == "0o600"


def test_single_grading_uses_the_reference_and_reports_means_per_system(store, settings, review, chat_server):
    tuned = _tuned_outputs(store, review)

    def respond(body, before):
        text = body["messages"][-1]["content"]
        assert "[Reference answer]\nIn depot" in text  # reference-guided: the data has references
        answer = text.split("[Answer]\n", 1)[1].strip()
        return Reply("Rating: [[8]]" if answer in tuned else '{"rating": 4}')

    server = chat_server(respond)
    outcome = judge_review(store, review, make_judge(settings, server.url, "grader"), mode="single")
    assert outcome.mode == "single" and outcome.invalid == 0 and outcome.judgments == len(review_generations(store, review))
    grades = {row["system"]: row for row in single_summary(store, review)["systems"]}
    assert grades[review.systems[0]]["mean"] == 8.0 and grades["base"]["mean"] == 4.0
    assert grades["base"]["ci_low"] == grades["base"]["ci_high"] == 4.0


def test_judge_prompts_are_versioned_per_project_and_a_new_version_is_a_new_judgment(store, settings, review,
                                                                                      chat_server):
    project = store.get_project(review.project_id)
    built_in = active_prompt(store, project, "pairwise")
    assert built_in.version == "built-in" and "[[A]]" in built_in.system_prompt
    with pytest.raises(TemplateError, match="answer_b"):
        save_prompt(store, project, "pairwise", built_in.system_prompt, "{{ input }} {{ answer_a }}", "")
    with pytest.raises(TemplateError, match="unsafe"):
        save_prompt(store, project, "pairwise", built_in.system_prompt,
                    "{{ answer_a.__class__.__mro__ }} {{ answer_b }}", "")
    server = chat_server(default=Reply("[[A]]"))
    judge = make_judge(settings, server.url, "judge-1")
    judge_review(store, review, judge)
    asked = len(server.requests)
    edited, added = save_prompt(store, project, "pairwise", built_in.system_prompt, built_in.template,
                                "Prefer the answer that names the depot.", "ana")
    assert added and edited.version == "v1" and edited.created_by == "ana"
    assert save_prompt(store, project, "pairwise", edited.system_prompt, edited.template, edited.rubric)[1] is False
    outcome = judge_review(store, review, judge)
    assert outcome.prompt_version == "v1" and outcome.requests == asked and outcome.cached == 0
    assert "Prefer the answer that names the depot." in server.requests[-1]["body"]["messages"][1]["content"]


def test_a_review_without_outputs_and_bad_judge_settings_are_refused(store, settings, review):
    with pytest.raises(EvaluationError, match="judge model"):
        make_judge(settings, "http://127.0.0.1:9/v1", "")
    with pytest.raises(EvaluationError, match="http:// or https://"):
        make_judge(settings, "localhost:8000", "m")
    with pytest.raises(EvaluationError, match="pairwise or single"):
        judge_review(store, review, make_judge(settings, "http://127.0.0.1:9/v1", "m"), mode="both")


def test_a_local_judge_runs_in_the_generation_child_and_counts_what_it_cannot_parse(store, settings, review,
                                                                                   tiny_model_dir):
    from ftstudio.evaluation.jobs import SubprocessBackend

    judge = LocalJudge(str(tiny_model_dir), settings, SubprocessBackend(settings.home / "generations", timeout=240),
                       max_new_tokens=8)
    outcome = judge_review(store, review, judge)
    tasks = 2 * len(store.review_pairs(review.id))
    assert outcome.judge == f"local:{tiny_model_dir}" and outcome.requests == tasks
    # A random tiny model writes no verdict: every answer is stored as invalid with its text, nothing raised.
    assert outcome.judgments == tasks and outcome.failed == 0
    assert outcome.invalid + sum(1 for v in pair_verdicts(store, review)[0] for o in v.orders if o) == tasks


class _SameWordsBackend:
    """Speaks the generation backend protocol; both systems give the same words on the first two inputs."""

    def generate(self, base_model_path, adapters, requests, settings, on_results, should_stop=lambda: False,
                 on_started=None):
        prompts = sorted({r["prompt"] for r in requests})
        on_results([{"cache_key": r["cache_key"], "seconds": 0.01,
                     "output": "In depot 1." if prompts.index(r["prompt"]) < 2 else f"{r['cache_key'][:6]} answer"}
                    for r in requests])
        return "finished"


def test_identical_answers_are_a_tie_without_asking_the_judge(store, settings, tiny_model_dir, tmp_path, chat_server):
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    review = generate_and_review(store, settings, run, backend=_SameWordsBackend()).review
    # Identical answers are no longer queued for people; a review queued before that still holds them.
    answers = {}
    for generation in review_generations(store, review).values():
        answers.setdefault(generation.item_key, {})[generation.system] = generation
    same = [(key, found[run.system].id, found["base"].id, 0.0) for key, found in answers.items()
            if found[run.system].output == found["base"].output]
    assert len(same) == 2 and store.add_review_pairs(review.id, same) == 2
    pairs = len(store.review_pairs(review.id))
    server = chat_server(default=Reply("The second. [[B]]"))
    outcome = judge_review(store, review, make_judge(settings, server.url, "judge-1"))
    summary = pairwise_summary(store, review)
    assert len(server.requests) == outcome.requests == 2 * (pairs - 2)
    assert summary["judged_pairs"] == pairs and summary["ties"] == pairs  # 2 same words, the rest position-biased
