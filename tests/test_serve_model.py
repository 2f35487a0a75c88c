"""`ftstudio serve-model`: a real child process on a loopback port, called with the official openai client. Its
greedy answers equal what `ftstudio generate --run` stored, whole and streamed; too many requests get 429, a bad
one 400, in OpenAI's error shape."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import httpx
import pytest

from tests.conftest import free_port, wait_until
from tests.evaluation_fixtures import finished_run

MAX_NEW_TOKENS = 12


def cli(home, *args, timeout: int = 300):
    return subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def served(store, settings, tiny_model_dir, tmp_path):
    """A finished run, its answers stored by `generate --run`, and serve-model on a free port (stopped after)."""
    from ftstudio.templates import Template

    project, run = finished_run(store, settings, tiny_model_dir, tmp_path,
                                template=Template("chat", system="Answer like a warehouse clerk."))
    store.close()
    generated = cli(settings.home, "generate", "--run", str(run.id), "--max-new-tokens", str(MAX_NEW_TOKENS), "--json",
                    timeout=900)
    assert generated.returncode == 0, generated.stderr[-2000:]
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "ftstudio", "--home", str(settings.home), "serve-model", "--run",
                               f"run-{run.id}", "--port", str(port), "--max-in-flight", "2"], stdout=log,
                              stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"

    def up():
        assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        try:
            return httpx.get(f"{url}/models", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 300, "serve-model to answer")
        yield url, run, json.loads(generated.stdout)["generations"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_serve_model_answers_as_the_review_did(served):
    from openai import BadRequestError, NotFoundError, OpenAI, RateLimitError

    url, run, stored = served
    client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
    assert [model.id for model in client.models.list()] == ["base", run.system]

    for system in (run.system, "base"):
        generation = next(g for g in stored if g["system"] == system)
        assert generation["input"] and generation["input"] in generation["prompt"]
        messages = [{"role": "user", "content": generation["input"]}]
        answer = client.chat.completions.create(model=system, messages=messages, max_tokens=MAX_NEW_TOKENS)
        assert answer.choices[0].message.content == generation["output"]
        assert answer.choices[0].finish_reason in ("stop", "length") and answer.usage.completion_tokens > 0
        chunks = list(client.chat.completions.create(model=system, messages=messages, max_tokens=MAX_NEW_TOKENS,
                                                     stream=True))
        assert chunks[0].choices[0].delta.role == "assistant"
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == generation["output"]
        assert chunks[-1].choices[0].finish_reason == answer.choices[0].finish_reason
    tuned = next(g for g in stored if g["system"] == run.system)["output"]
    base = next(g for g in stored if g["system"] == "base")["output"]
    assert tuned != base  # the adapter was switched by name, not left on (or off) for both

    with pytest.raises(BadRequestError) as bad:
        client.chat.completions.create(model="base", messages=[], max_tokens=4)
    assert "messages" in bad.value.body["message"] and bad.value.status_code == 400
    with pytest.raises(BadRequestError):
        client.chat.completions.create(model="base", messages=[{"role": "user", "content": "hi"}], max_tokens=0)
    with pytest.raises(NotFoundError) as missing:
        client.chat.completions.create(model="run-999", messages=[{"role": "user", "content": "hi"}])
    assert "base" in missing.value.body["message"]

    # Eight at once against a limit of two in flight: some are refused with 429, the rest answered.
    outcomes, start = [], threading.Barrier(8)

    def ask():
        start.wait(timeout=30)
        try:
            client.chat.completions.create(model=run.system, messages=[{"role": "user", "content": "Where is pallet 3?"}],
                                           max_tokens=200)
            outcomes.append("answered")
        except RateLimitError as error:
            outcomes.append(error.body["type"])

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert "answered" in outcomes and "rate_limit_exceeded" in outcomes and len(outcomes) == 8


def test_batched_greedy_answers_equal_single_ones(store, settings, tiny_model_dir, tmp_path):
    from ftstudio.shipping.engine import AdapterEngine
    from ftstudio.shipping.served import serving_manifest

    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    manifest = serving_manifest(store, run)
    assert manifest.names == ["base", run.system] and manifest.adapters[run.system].endswith("adapter")
    engine = AdapterEngine(manifest)
    prompts = [engine.prompt(run.system, [{"role": "user", "content": text}])
               for text in ("Where is pallet 7?", "Could you confirm the delivery window for the north depot?", "Hi")]
    together = engine.generate(run.system, prompts, [10, 10, 4])
    alone = [engine.generate(run.system, [prompt], [limit])[0] for prompt, limit in zip(prompts, [10, 10, 4])]
    assert [a.text for a in together] == [a.text for a in alone]
    assert together[2].completion_tokens <= 4
    streamed: list[str] = []
    engine.generate(run.system, prompts[:2], [10, 10], on_text=[None, streamed.append])
    assert "".join(streamed) == alone[1].text


def test_the_server_process_never_imports_the_store():
    """The app starts the server as a child while it holds the database: the child reads only its manifest."""
    code = ("import sys, ftstudio.shipping.server, ftstudio.shipping.engine, ftstudio.shipping.batching, "
            "ftstudio.evaluation.worker, ftstudio.training.device; "
            "print(sorted(m for m in sys.modules if m == 'duckdb' or m.startswith('ftstudio.store')))")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert child.stdout.strip().splitlines()[-1] == "[]", child.stderr[-2000:]
