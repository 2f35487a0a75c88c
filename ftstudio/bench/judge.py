"""`ftstudio bench judge`: the studio's judge against one request at a time, on the same loopback endpoint.

The endpoint answers every request after a fixed latency (200 ms by default, a hosted API's order of magnitude)
and, to show that nothing is lost, refuses a few first attempts: 3% with HTTP 429 (Retry-After: 0) and 2% with
HTTP 500, the same requests for both sides. The baseline is the plain loop a script would write: the official
client, one chat completion after another. The studio judges a review of `pairs` pairs in both orders (2 x pairs
judgments) with `concurrency` requests in flight, storing every judgment as it arrives.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from pathlib import Path

from ftstudio.bench.chat_server import ChatServer, Reply


def _faulty_endpoint(latency: float) -> ChatServer:
    attempts: dict[str, int] = {}
    lock = threading.Lock()

    def respond(body: dict, before: int) -> Reply:
        digest = hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()
        with lock:
            attempts[digest] = attempts.get(digest, 0) + 1
            first = attempts[digest] == 1
        bucket = int(digest[:8], 16) % 100
        if first and bucket < 3:
            return Reply("rate limited", 429, delay=latency / 4, retry_after="0")
        if first and bucket < 5:
            return Reply("internal error", 500, delay=latency / 4)
        return Reply("Answer A follows the request more closely. [[A]]" if bucket % 2 else
                     "Answer B is more accurate. [[B]]", delay=latency)

    return ChatServer(respond)


def _review(store, pairs: int):
    """A project with `pairs` inputs answered by two systems, and the review that compares them."""
    project = store.create_project("judge-bench", "generation")
    rows = []
    for system in ("tuned", "base"):
        for n in range(pairs):
            rows.append({"project_id": project.id, "cache_key": f"{system}-{n}", "settings_key": "bench",
                         "item_key": f"prompt:{n}", "system": system, "input": f"Write a reply to message {n}.",
                         "prompt": f"Write a reply to message {n}.", "settings": {}, "metadata": {},
                         "output": f"{system} reply {n}: " + "thanks for your note, " * (1 + n % 5)})
    store.add_generations(rows)
    review = store.create_review(project.id, None, ["tuned", "base"], "bench")
    from ftstudio.evaluation.review import sync_pairs

    sync_pairs(store, review)
    return review


def bench_judge(pairs: int = 100, latency: float = 0.2, concurrency: int = 16) -> dict:
    from openai import OpenAI

    from ftstudio.config import Settings
    from ftstudio.evaluation.judge_prompts import active_prompt
    from ftstudio.evaluation.judging import judge_review, judge_tasks, make_judge
    from ftstudio.store import open_store

    with tempfile.TemporaryDirectory(prefix="ftstudio-bench-judge-") as folder:
        settings = Settings(home=Path(folder) / "studio")
        settings.ensure_dirs()
        store = open_store(settings.database_path)
        review = _review(store, pairs)
        judge = make_judge(settings, "http://127.0.0.1:9/v1", "bench-judge", concurrency=concurrency)
        prompt = active_prompt(store, store.get_project(review.project_id), "pairwise")
        conversations = [task.request.messages for task in judge_tasks(store, review, judge, "pairwise", prompt)]

        with _faulty_endpoint(latency) as server:
            client = OpenAI(base_url=server.url, api_key="no-key", max_retries=4, timeout=60)
            began, answered = time.perf_counter(), 0
            for messages in conversations:
                reply = client.chat.completions.create(model="bench-judge", messages=messages, temperature=0)
                answered += bool(reply.choices[0].message.content)
            sequential_seconds = time.perf_counter() - began
            sequential_requests = len(server.requests)

        with _faulty_endpoint(latency) as server:
            judge = make_judge(settings, server.url, "bench-judge", concurrency=concurrency)
            began = time.perf_counter()
            outcome = judge_review(store, review, judge)
            studio_seconds = time.perf_counter() - began
            studio_requests = len(server.requests)
        stored = store.cursor().execute("SELECT count(*) FROM judgments WHERE status = 'ok'").fetchone()[0]
        store.close()

    total = len(conversations)
    return {
        "benchmark": "judge", "judgments": total, "latency_ms": round(latency * 1000),
        "faults": "3% of first attempts HTTP 429, 2% HTTP 500",
        "sequential": {"seconds": round(sequential_seconds, 2), "judgments_per_second": round(total / sequential_seconds, 2),
                       "requests": sequential_requests, "answered": answered},
        "studio": {"seconds": round(studio_seconds, 2), "judgments_per_second": round(total / studio_seconds, 2),
                   "concurrency": concurrency, "requests": studio_requests, "stored": stored,
                   "lost": total - stored, "failed": outcome.failed, "invalid": outcome.invalid},
        "speedup": round(sequential_seconds / studio_seconds, 2),
        "goal": "at least 10x the sequential throughput with 16 in flight, and no judgment lost",
    }
