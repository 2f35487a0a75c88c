"""`ftstudio bench serve` on the tiny random Llama: both paths answer every request, the same answers (batched
greedy equals unbatched), and every figure is reported (speed is never asserted)."""

from argparse import Namespace

from ftstudio.bench import run_benchmark


def test_bench_serve_reports_both_paths_on_the_tiny_model(tiny_model_dir):
    report = run_benchmark("serve", Namespace(model=str(tiny_model_dir), prompts=8, concurrency=4, max_new_tokens=4))
    assert report["requests"] == 8 and report["clients"] == 4 and report["failed_requests"] == 0
    assert report["same_answers"] == 1.0
    for key in ("sequential_answers_per_second", "served_answers_per_second", "served_p95_latency_seconds", "ratio"):
        assert report[key] > 0
    assert report["served_p50_latency_seconds"] <= report["served_p95_latency_seconds"]
