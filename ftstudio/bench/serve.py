"""`ftstudio bench serve`: the OpenAI-compatible server under concurrent clients against one request at a time.

Both answer the same chat requests (a tuned run: the embedded model with a random adapter, prompts rendered with
the chat template), greedy, with the same maximum length:
- sequential: the studio's generation code in this process, one request after another, no HTTP in the way (the
  baseline pays no network or JSON cost, so the ratio is conservative);
- served: `python -m ftstudio.shipping.server` (what `ftstudio serve-model` runs) in a child process on a loopback
  port, called over HTTP by CLIENTS threads at once, each sending its share of the requests one after another.
  Requests that arrive together are batched (up to 8).

Reported: answers per second of each, the ratio, p50/p95 latency per request, and the share of served answers equal to the sequential ones (batched greedy answers should equal unbatched).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REQUESTS = 64
CLIENTS = 8


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _sequential(manifest, name: str, inputs: list[str], max_new_tokens: int) -> tuple[list[str], list[float], float]:
    from ftstudio.shipping.engine import AdapterEngine

    engine = AdapterEngine(manifest)
    prompts = [engine.prompt(name, [{"role": "user", "content": text}]) for text in inputs]
    engine.generate(name, prompts[:1], [4])  # warm-up, as the server warms on its first batch
    answers, latencies = [], []
    began = time.perf_counter()
    for prompt in prompts:
        started = time.perf_counter()
        answers.append(engine.generate(name, [prompt], [max_new_tokens])[0].text)
        latencies.append(time.perf_counter() - started)
    return answers, latencies, time.perf_counter() - began


def _served(url: str, name: str, inputs: list[str], max_new_tokens: int, clients: int):
    from openai import OpenAI

    client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
    client.chat.completions.create(model=name, messages=[{"role": "user", "content": inputs[0]}], max_tokens=4)
    answers: list[str | None] = [None] * len(inputs)
    latencies: list[float] = []
    errors: list[str] = []

    def work(indices: list[int]) -> None:
        for index in indices:
            started = time.perf_counter()
            try:
                reply = client.chat.completions.create(model=name, max_tokens=max_new_tokens,
                                                       messages=[{"role": "user", "content": inputs[index]}])
                answers[index] = reply.choices[0].message.content
            except Exception as error:  # counted and reported, never hidden
                errors.append(f"{type(error).__name__}: {error}")
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=work, args=(list(range(n, len(inputs), clients)),)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, latencies, time.perf_counter() - began, errors


def bench_serve(model: str | None = None, requests: int = REQUESTS, clients: int = CLIENTS,
                max_new_tokens: int = 64, cache: str | None = None, seed: int = 0) -> dict:
    import httpx

    from ftstudio.bench.generate import bench_prompts, random_adapter
    from ftstudio.bench.train import embedded_model_path
    from ftstudio.shipping.manifest import ServeManifest, ServedModel
    from ftstudio.templates import Template

    started = time.perf_counter()
    model_path = model or embedded_model_path(cache)
    inputs = bench_prompts(requests, seed)
    with tempfile.TemporaryDirectory(prefix="ftstudio-bench-serve-") as tmp:
        work = Path(tmp)
        adapter = random_adapter(model_path, work / "adapter", seed)
        chat = Template("chat").to_dict()
        manifest = ServeManifest(model_path, [ServedModel("base", chat), ServedModel("run-1", chat, str(adapter), 1)])
        path = manifest.write(work / "manifest.json")
        sequential, sequential_latencies, sequential_seconds = _sequential(manifest, "run-1", inputs, max_new_tokens)

        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}/v1"
        log = (work / "server.log").open("w")
        server = subprocess.Popen([sys.executable, "-m", "ftstudio.shipping.server", str(path), "--port", str(port),
                                   "--backend", "transformers", "--max-in-flight", str(4 * requests)],
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 600
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"The server did not start: {(work / 'server.log').read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            served, served_latencies, served_seconds, errors = _served(url, "run-1", inputs, max_new_tokens, clients)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    sequential_rate = requests / sequential_seconds
    served_rate = (requests - len(errors)) / served_seconds
    return {
        "benchmark": "serve",
        "model": model or "embedded:SmolLM2-135M-Instruct",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "requests": requests, "clients": clients, "max_new_tokens": max_new_tokens,
        "sequential_answers_per_second": round(sequential_rate, 3),
        "sequential_p50_latency_seconds": round(statistics.median(sequential_latencies), 3),
        "sequential_p95_latency_seconds": round(_percentile(sequential_latencies, 0.95), 3),
        "served_answers_per_second": round(served_rate, 3),
        "served_p50_latency_seconds": round(statistics.median(served_latencies), 3),
        "served_p95_latency_seconds": round(_percentile(served_latencies, 0.95), 3),
        "ratio": round(served_rate / sequential_rate, 2),
        "goal_3x_throughput": served_rate / sequential_rate >= 3,
        "same_answers": round(sum(a == b for a, b in zip(served, sequential)) / requests, 3),
        "errors": errors[:5], "failed_requests": len(errors),
        "seconds": round(time.perf_counter() - started, 1),
    }


def options_from_args(args) -> dict:
    return {"model": getattr(args, "model", None), "requests": getattr(args, "prompts", None) or REQUESTS,
            "clients": getattr(args, "concurrency", None) or CLIENTS,
            "max_new_tokens": getattr(args, "max_new_tokens", None) or 64}
