"""LLM-as-a-judge over a review's outputs: a local causal LM or any OpenAI-compatible endpoint, pairwise (each
pair asked in both orders) or single-answer grading on 1-10, every judgment stored and cached.

A judgment is keyed by the judge, the mode and the exact messages sent (which hold the prompt version's text and
the answers), so a rerun asks only what is new, failed, or (when asked to) unparseable. A request that fails is
stored as failed with its reason and asked again next time; an answer that cannot be parsed is stored as invalid
with its text. Neither stops the batch.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Protocol

from ftstudio.config import Settings
from ftstudio.evaluation.generations import DecodingSettings
from ftstudio.evaluation.review import same_answer
from ftstudio.evaluation.systems import REFERENCE, EvaluationError
from ftstudio.evaluation.judge_prompts import JudgePrompt, active_prompt
from ftstudio.remote import RemoteModel, RemoteModelError
from ftstudio.store import Generation, Review, Store

PAIRWISE, SINGLE = "pairwise", "single"
LOCAL = "local"
MIN_RATING, MAX_RATING = 1, 10

# --- parsing the judge's answer ----------------------------------------------------------

_VERDICT_TAG = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
_RATING_TAG = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*(?:/\s*10\s*)?\]\]")
_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_TIE_WORDS = {"c", "tie", "draw", "equal", "both", "neither", "same"}
_VERDICT_KEYS = ("verdict", "winner", "better", "preferred", "preference", "choice", "answer")
_RATING_KEYS = ("rating", "score", "grade")


def _json_objects(text: str) -> list[dict]:
    """The flat JSON objects in the text, last first (a judge that explains first ends with its verdict)."""
    found = []
    for match in reversed(_JSON_OBJECT.findall(text or "")):
        try:
            value = json.loads(match)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append({str(k).lower(): v for k, v in value.items()})
    return found


def parse_pairwise(text: str) -> tuple[str | None, str | None]:
    """("A" | "B" | "tie", None), or (None, why) for an answer with no verdict in a known form.

    Accepted: [[A]], [[B]], [[C]] (or [[tie]]), the last one counting, and a JSON object such as
    {"winner": "A"} or {"verdict": "tie"}."""
    tags = _VERDICT_TAG.findall(text or "")
    if tags:
        last = tags[-1].upper()
        return ("tie" if last in ("C", "TIE") else last), None
    for value in _json_objects(text):
        for key in _VERDICT_KEYS:
            if key in value and isinstance(value[key], str):
                word = value[key].strip().strip("[]").strip().lower()
                if word in ("a", "answer a", "assistant a"):
                    return "A", None
                if word in ("b", "answer b", "assistant b"):
                    return "B", None
                if word in _TIE_WORDS:
                    return "tie", None
    return None, "no verdict in the form [[A]], [[B]] or [[C]], nor a JSON object with a winner"


def parse_rating(text: str) -> tuple[float | None, str | None]:
    """(rating, None) for a rating from 1 to 10 as Rating: [[7]], [[7]] or {"rating": 7}; else (None, why)."""
    candidates = [float(tag) for tag in _RATING_TAG.findall(text or "")]
    if not candidates:
        for value in _json_objects(text):
            for key in _RATING_KEYS:
                if isinstance(value.get(key), (int, float)) and not isinstance(value.get(key), bool):
                    candidates.append(float(value[key]))
                    break
            if candidates:
                break
    if not candidates:
        return None, "no rating in the form Rating: [[N]], nor a JSON object with a rating"
    rating = candidates[-1]
    if not MIN_RATING <= rating <= MAX_RATING:
        return None, f"the rating {rating:g} is outside {MIN_RATING}-{MAX_RATING}"
    return rating, None


# --- judges ---------------------------------------------------------------------------------


@dataclass
class JudgeRequest:
    cache_key: str
    messages: list[dict]


@dataclass
class JudgeAnswer:
    cache_key: str
    text: str | None
    error: str | None = None  # set when the request failed: no answer came
    seconds: float | None = None


class Judge(Protocol):
    name: str

    @property
    def requests_made(self) -> int:
        """Calls made so far (HTTP requests, retries included, for a remote judge; prompts for a local one)."""

    def answer(self, requests: list[JudgeRequest], on_answers: Callable[[list[JudgeAnswer]], None],
               should_stop: Callable[[], bool] = lambda: False) -> None:
        """Answer every request (a failure comes back as an answer with an error), handing answers over as they come."""


class RemoteJudge:
    """A judge behind an OpenAI-compatible endpoint, with at most `concurrency` requests in flight."""

    def __init__(self, remote: RemoteModel):
        self.remote = remote
        self.name = remote.name

    @property
    def requests_made(self) -> int:
        return self.remote.http_requests

    def _ask(self, request: JudgeRequest) -> JudgeAnswer:
        began = time.perf_counter()
        try:
            text = self.remote.chat(request.messages, temperature=0.0)
            return JudgeAnswer(request.cache_key, text, None, time.perf_counter() - began)
        except RemoteModelError as error:
            return JudgeAnswer(request.cache_key, None, str(error), time.perf_counter() - began)
        except Exception as error:  # anything else is this request's failure, not the batch's
            return JudgeAnswer(request.cache_key, None, f"{type(error).__name__}: {error}",
                               time.perf_counter() - began)

    def answer(self, requests, on_answers, should_stop=lambda: False) -> None:
        self.remote.client()  # built once here, not raced for by the request threads
        pool = ThreadPoolExecutor(max_workers=max(1, self.remote.concurrency), thread_name_prefix="judge")
        try:
            for future in as_completed([pool.submit(self._ask, request) for request in requests]):
                on_answers([future.result()])
                if should_stop():
                    break
        finally:
            # On a stop, requests not yet sent are dropped (nothing is stored for them: the next run asks them).
            pool.shutdown(wait=True, cancel_futures=True)


class LocalJudge:
    """A causal LM the studio can load, answering in the generation child process (greedy decoding)."""

    def __init__(self, model: str, studio: Settings, backend=None, max_new_tokens: int = 256):
        self.model, self.studio, self.max_new_tokens = model, studio, max_new_tokens
        self.name = f"{LOCAL}:{model}"
        self.backend = backend
        self._made = 0

    @property
    def requests_made(self) -> int:
        return self._made

    def answer(self, requests, on_answers, should_stop=lambda: False) -> None:
        from ftstudio.evaluation.jobs import GenerationError, SubprocessBackend
        from ftstudio.models import load_tokenizer, materialize

        tokenizer = load_tokenizer(self.model, self.studio.model_cache)
        if not getattr(tokenizer, "chat_template", None):
            raise EvaluationError(f"The local judge {self.model} has no chat template: pick an instruction-tuned "
                                  "model (the embedded default works) or a remote judge.")
        prompts = [{"cache_key": r.cache_key, "system": "base", "prompt": _chat_prompt(tokenizer, r.messages)}
                   for r in requests]
        decoding = DecodingSettings(max_new_tokens=self.max_new_tokens).resolved()
        answered: set[str] = set()

        def record(rows: list[dict]) -> None:
            answers = [JudgeAnswer(row["cache_key"], row["output"], None, row.get("seconds")) for row in rows]
            answered.update(answer.cache_key for answer in answers)
            self._made += len(answers)
            on_answers(answers)

        backend = self.backend or SubprocessBackend(self.studio.home / "generations")
        try:
            backend.generate(materialize(self.model, self.studio.model_cache), {}, prompts, decoding.to_dict(),
                             record, should_stop)
        except GenerationError as error:
            if not should_stop():
                on_answers([JudgeAnswer(p["cache_key"], None, str(error)) for p in prompts
                            if p["cache_key"] not in answered])


def _chat_prompt(tokenizer, messages: list[dict]) -> str:
    try:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    except Exception:  # chat templates that refuse a system turn (Gemma's): fold it into the user turn
        merged = [{"role": "user", "content": "\n\n".join(m["content"] for m in messages)}]
        return tokenizer.apply_chat_template(merged, add_generation_prompt=True, tokenize=False)


def make_judge(studio: Settings, judge: str | None = None, model: str | None = None, concurrency: int = 16,
               timeout: float = 60.0, max_retries: int = 4, backend=None) -> Judge:
    """`judge` is `local` (the studio's base model, or `model`) or an endpoint's base URL (`model` names it)."""
    judge = (judge or LOCAL).strip()
    if judge == LOCAL:
        return LocalJudge(model or studio.base_model, studio, backend)
    if not (model or "").strip():
        raise EvaluationError("Name the judge model the endpoint serves, e.g. --judge-model gpt-4o-mini.")
    if not 1 <= int(concurrency) <= 256:
        raise EvaluationError("Requests in flight must be between 1 and 256.")
    try:
        remote = RemoteModel(judge, model, timeout=timeout, max_retries=max_retries, concurrency=int(concurrency),
                             secrets_home=studio.home)
    except RemoteModelError as error:
        raise EvaluationError(str(error)) from None
    return RemoteJudge(remote)


# --- judging a review ---------------------------------------------------------------------


@dataclass
class JudgeTask:
    request: JudgeRequest
    row: dict  # the judgment row, less what the answer fills in


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def _row(review: Review, judge: Judge, mode: str, prompt: JudgePrompt, item_key: str, first: int,
         second: int | None, shown_first: int, user_name: str | None) -> dict:
    return {"project_id": review.project_id, "judge": judge.name, "mode": mode, "prompt_version": prompt.version,
            "prompt_digest": prompt.digest, "item_key": item_key, "generation_a": first, "generation_b": second,
            "shown_first": shown_first, "created_by": user_name}


def review_generations(store: Store, review: Review) -> dict[int, Generation]:
    return {g.id: g for g in store.list_generations(review.project_id, review.settings_key, review.systems)}


def _same_answers(store: Store, review: Review) -> int:
    generations = review_generations(store, review)
    return sum(1 for pair in store.review_pairs(review.id)
               if pair.generation_a in generations and pair.generation_b in generations
               and same_answer(generations[pair.generation_a], generations[pair.generation_b]))


def judge_tasks(store: Store, review: Review, judge: Judge, mode: str, prompt: JudgePrompt,
                user_name: str | None = None) -> list[JudgeTask]:
    """Every request the review needs: each pair in both orders, or each answer once."""
    generations = review_generations(store, review)
    # As for people: a reference shown beside a pair that contains the reference gives that answer away.
    shows_reference = REFERENCE not in review.systems
    tasks = []
    if mode == PAIRWISE:
        for pair in store.review_pairs(review.id):
            first, second = generations.get(pair.generation_a), generations.get(pair.generation_b)
            if first is None or second is None or same_answer(first, second):
                continue  # two identical answers are a tie: nothing to ask (and both orders would read alike)
            reference = first.reference if shows_reference else None
            for shown_a, shown_b in ((first, second), (second, first)):
                messages = prompt.messages(first.input, reference, answer_a=shown_a.output, answer_b=shown_b.output)
                key = _key("judgment", judge.name, mode, messages)
                tasks.append(JudgeTask(JudgeRequest(key, messages), _row(review, judge, mode, prompt, pair.item_key,
                                                                        first.id, second.id, shown_a.id, user_name)))
    else:
        for generation in generations.values():
            reference = generation.reference if generation.system != REFERENCE else None
            messages = prompt.messages(generation.input, reference, answer=generation.output)
            key = _key("judgment", judge.name, mode, messages)
            tasks.append(JudgeTask(JudgeRequest(key, messages), _row(review, judge, mode, prompt, generation.item_key,
                                                                    generation.id, None, generation.id, user_name)))
    return tasks


def _judged(task: JudgeTask, answer: JudgeAnswer, mode: str) -> dict:
    row = dict(task.row, cache_key=task.request.cache_key, raw=answer.text, seconds=answer.seconds,
               verdict=None, score=None, error=None)
    if answer.error is not None:
        return dict(row, status="failed", error=answer.error)
    if mode == PAIRWISE:
        shown, why = parse_pairwise(answer.text)
        if shown is None:
            return dict(row, status="invalid", error=why)
        first_shown_is_a = row["shown_first"] == row["generation_a"]
        verdict = {"A": "a" if first_shown_is_a else "b", "B": "b" if first_shown_is_a else "a", "tie": "tie"}[shown]
        return dict(row, status="ok", verdict=verdict)
    rating, why = parse_rating(answer.text)
    return dict(row, status="invalid", error=why) if rating is None else dict(row, status="ok", score=rating)


@dataclass
class JudgeRun:
    """What one call to the judge did: the counts `ftstudio judge --json` prints."""

    judge: str
    mode: str
    prompt_version: str
    judgments: int   # made now or found in the cache (ok or invalid)
    requests: int    # calls made now, retries included
    cached: int
    invalid: int
    failed: int
    state: str       # finished | cancelled
    same_answers: int = 0  # pairs whose two answers have the same words: ties, not asked


def judge_review(store: Store, review: Review, judge: Judge, mode: str = PAIRWISE, user_name: str | None = None,
                 retry_invalid: bool = False, on_progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> JudgeRun:
    """Judge every pair (or answer) of the review; what is stored already is not asked again."""
    if mode not in (PAIRWISE, SINGLE):
        raise EvaluationError(f"Unknown judging mode {mode!r}: choose pairwise or single.")
    project = store.get_project(review.project_id)
    prompt = active_prompt(store, project, mode)
    tasks = judge_tasks(store, review, judge, mode, prompt, user_name)
    if not tasks and mode == PAIRWISE and review_generations(store, review):  # every pair identical: all ties
        return JudgeRun(judge.name, mode, prompt.version, 0, 0, 0, 0, 0, "finished", _same_answers(store, review))
    if not tasks:
        raise EvaluationError("This review has no outputs to judge yet: generate answers first (Review tab, or "
                              "`ftstudio generate --run RUN`).")
    by_key = {task.request.cache_key: task for task in tasks}
    stored = store.judgments_by_keys(list(by_key))
    settled = {"ok", "invalid"} if not retry_invalid else {"ok"}
    cached = {key for key, judgment in stored.items() if judgment.status in settled}
    to_ask = [task for key, task in by_key.items() if key not in cached]
    calls_before, done = judge.requests_made, 0
    if on_progress:
        on_progress(0, len(to_ask))

    def record(answers: list[JudgeAnswer]) -> None:
        nonlocal done
        store.record_judgments([_judged(by_key[a.cache_key], a, mode) for a in answers if a.cache_key in by_key])
        done += len(answers)
        if on_progress:
            on_progress(done, len(to_ask))

    if to_ask:
        judge.answer([task.request for task in to_ask], record, should_stop)
    final = store.judgments_by_keys(list(by_key))
    statuses = [judgment.status for judgment in final.values()]
    finished = len(final) == len(by_key)
    return JudgeRun(judge.name, mode, prompt.version, statuses.count("ok") + statuses.count("invalid"),
                    judge.requests_made - calls_before, len(cached), statuses.count("invalid"),
                    statuses.count("failed"), "finished" if finished or not should_stop() else "cancelled",
                    _same_answers(store, review) if mode == PAIRWISE else 0)
