"""The review loop from the CLI: generate base and tuned answers in a child process, vote on stdin, report."""

import json
import subprocess
import sys

from tests.evaluation_fixtures import finished_run


def cli(home, *args, stdin: str | None = None, timeout: int = 300):
    return subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(home), *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def test_generate_review_and_report_from_the_terminal(store, settings, tiny_model_dir, tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    store.close()  # the CLI is the writer now, as when no app is running
    generated = cli(settings.home, "generate", "--run", str(run.id), "--max-new-tokens", "8", "--json")
    assert generated.returncode == 0, generated.stderr[-2000:]
    payload = json.loads(generated.stdout)
    assert payload["systems"] == [run.system, "base"]
    tests = {g["example_id"] for g in payload["generations"]}
    assert len(payload["generations"]) == 2 * len(tests) and payload["created"] == len(payload["generations"])
    assert {"example_id", "system", "prompt", "output", "settings"} <= set(payload["generations"][0])
    again = json.loads(cli(settings.home, "generate", "--run", f"run-{run.id}", "--max-new-tokens", "8",
                           "--json").stdout)
    assert again["created"] == 0 and again["reused"] == len(payload["generations"])

    voted = cli(settings.home, "review", "--run", str(run.id), "--user", "ana", stdin="a\nmaybe\nb\nt\nx\nq\n")
    assert voted.returncode == 0, voted.stderr[-2000:]
    out = voted.stdout
    before_first_vote = out.split("A was ")[0]
    assert run.system not in before_first_vote and "base model" not in before_first_vote
    assert out.count("A was ") == 4 and "Not saved" in out  # "maybe" is refused, then voting goes on

    reported = cli(settings.home, "report", "--run", str(run.id), "--json", "--export", str(tmp_path / "exports"))
    assert reported.returncode == 0, reported.stderr[-2000:]
    results = json.loads(reported.stdout)
    entry = results["human"][f"{run.system} vs base"]
    assert entry["wins"] + entry["losses"] == 2 and entry["ties"] == 1 and entry["both_bad"] == 1
    # Which side the run was on is drawn per pair: the reveals printed after each vote say who won.
    tuned_wins = sum(("A was run" in line) == ("\u201cA is better\u201d" in line) for line in out.splitlines()
                     if "A was " in line and "better" in line)
    assert entry["wins"] == tuned_wins and entry["win_rate"] == tuned_wins / 2
    assert entry["ci_low"] <= entry["win_rate"] <= entry["ci_high"] and entry["verdict"]
    assert len((tmp_path / "exports" / f"review-{results['review']}-preferences.jsonl").read_text().splitlines()) == 2
    text = cli(settings.home, "report", "--run", str(run.id))
    assert f"win rate {tuned_wins / 2:.0%}" in text.stdout


def test_generate_without_a_finished_run_says_what_to_do(store, settings, tiny_model_dir, tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    store.update_run(run.id, status="failed")
    store.close()
    result = cli(settings.home, "generate", "--run", str(run.id))
    assert result.returncode == 2 and "only a finished run" in result.stderr and "Traceback" not in result.stderr
    missing = cli(settings.home, "report", "--run", "42")
    assert missing.returncode == 2 and "No run '42'" in missing.stderr


def test_plain_generate_still_answers_a_prompt(tiny_model_dir, tmp_path):
    result = subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(tmp_path / "home"), "--base-model",
                             str(tiny_model_dir), "generate", "Where is pallet 7?", "--max-new-tokens", "4"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.endswith("\n") and "Traceback" not in result.stderr  # the answer, printed


def test_judge_metrics_and_the_full_report_from_the_terminal(store, settings, tiny_model_dir, tmp_path, chat_server):
    from ftstudio.bench.chat_server import Reply
    from ftstudio.evaluation.compare import generate_and_review
    from tests.evaluation_fixtures import FakeBackend

    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    generate_and_review(store, settings, run, backend=FakeBackend())
    pairs = len(store.review_pairs(store.list_reviews(project.id)[0].id))
    store.close()
    server = chat_server(default=Reply("Answer A reads better. [[A]]"))
    judged = cli(settings.home, "judge", "--run", str(run.id), "--judge", server.url, "--judge-model", "judge-1",
                 "--concurrency", "4", "--json")
    assert judged.returncode == 0, judged.stderr[-2000:]
    payload = json.loads(judged.stdout)
    assert {"judgments", "requests", "cached", "invalid", "failed", "position_consistency", "wins", "ties"} <= set(payload)
    assert payload["judgments"] == payload["requests"] == 2 * pairs and payload["cached"] == 0
    assert payload["position_consistency"] == 0.0 and payload["ties"] == pairs  # always A: flips with the order
    again = json.loads(cli(settings.home, "judge", "--run", str(run.id), "--judge", server.url, "--judge-model",
                           "judge-1", "--json").stdout)
    assert again["requests"] == 0 and again["cached"] == 2 * pairs and len(server.requests) == 2 * pairs

    voted = cli(settings.home, "review", "--run", str(run.id), "--user", "ana", stdin="a\n" * pairs + "q\n")
    assert voted.returncode == 0, voted.stderr[-2000:]
    reported = cli(settings.home, "report", "--run", str(run.id), "--json")
    assert reported.returncode == 0, reported.stderr[-2000:]
    results = json.loads(reported.stdout)
    assert results["judge"]["judge"] == f"judge-1 @ {server.url}" and results["judge"]["ties"] == pairs
    assert results["agreement"]["votes"] == pairs and results["agreement"]["confusion"]["tie"] == {"a": 0, "b": 0, "tie": 0}
    assert {row["system"] for row in results["metrics"]} == {run.system, "base"}
    assert all("rougeL" in row and "bleu" in row for row in results["metrics"])
    text = cli(settings.home, "report", "--run", str(run.id)).stdout
    assert "same verdict in both orders: 0%" in text and "Judge vs people on" in text

    metrics = cli(settings.home, "metrics", "--run", str(run.id), "--text-only", "--json")
    assert metrics.returncode == 0, metrics.stderr[-2000:]
    assert json.loads(metrics.stdout)["metrics"][0]["with_reference"] > 0
    prompt = cli(settings.home, "judge-prompt", "--project", project.name, "--rubric", "Prefer short answers.",
                 "--json")
    assert prompt.returncode == 0 and json.loads(prompt.stdout)["version"] == "v1"
    key = cli(settings.home, "judge-key", stdin="sk-typed-789\n")
    assert key.returncode == 0 and "sk-typed-789" not in key.stdout + key.stderr
