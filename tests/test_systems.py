"""Systems beyond base and runs: a registered OpenAI-compatible endpoint (a loopback server here) and few-shot
prompts as contestants, latency and tokens per answer, costs per 1,000 answers, and distillation by a teacher."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from ftstudio.bench.chat_server import Reply
from ftstudio.cli import main
from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.contestants import register_system
from ftstudio.evaluation.costs import best_buy, review_costs
from ftstudio.evaluation.distill import distill
from ftstudio.evaluation.generations import evaluation_version_id, generate_answers
from ftstudio.evaluation.results import BradleyTerryRating, Results
from ftstudio.importing import import_paths
from ftstudio.labeling import next_task
from ftstudio.templates import Template
from ftstudio.training.config import TrainConfig
from ftstudio.training.folders import write_status
from ftstudio.training.manager import RunManager
from ftstudio.versions import SplitPlan, freeze_version
from tests.evaluation_fixtures import FakeBackend, random_adapter

SECRET = "sk-unit-7f3a9c1e5b"


def distinct_run(store, settings, base_model_dir: Path, tmp_path: Path, examples: int = 20):
    """A finished run on a version whose every output is distinctive (code Q<n>Z), so a prompt shows which
    examples it holds."""
    pairs = tmp_path / "codes.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Which code goes with parcel {n}?",
                                           "response": f"Code Q{n}Z."}) for n in range(examples)))
    project = store.create_project("Codes", "generation")
    import_paths(store, project, [pairs])
    version = freeze_version(store, project, Template("chat"), SplitPlan((0.6, 0.2, 0.2)))
    settings.base_model = str(base_model_dir)
    run_id = RunManager(store, settings).create_run(project, version.name, TrainConfig(max_steps=1),
                                                    check_memory=False, queue=False)
    run = store.get_run(run_id)
    random_adapter(base_model_dir, Path(run.run_dir) / "adapter", seed=run_id)
    write_status(Path(run.run_dir), "finished", step=1, max_steps=1)
    store.update_run(run_id, status="finished", step=1, max_steps=1, finished_at=datetime.now())
    return project, store.get_run(run_id)


def codes(text: str) -> set[str]:
    import re

    return set(re.findall(r"Q\d+Z", text))


def test_a_hosted_system_is_asked_once_per_prompt_with_usage_recorded_and_its_key_kept_out(
        store, settings, tiny_model_dir, tmp_path, chat_server, monkeypatch):
    monkeypatch.setenv("FTSTUDIO_JUDGE_API_KEY", SECRET)
    server = chat_server(default=Reply("Code from the hosted model, four words."))
    _, run = distinct_run(store, settings, tiny_model_dir, tmp_path)
    register_system(store, "gpt", server.url, "gpt-test", price_input=1.0, price_output=4.0)
    systems = [run.system, "base", "gpt"]
    batch = generate_and_review(store, settings, run, systems, backend=FakeBackend())
    tests = store.version_rows(evaluation_version_id(run), "test")
    assert len(server.requests) == len(tests)  # once per prompt
    assert all(r["authorization"] == f"Bearer {SECRET}" for r in server.requests)
    hosted = [g for g in batch.generations if g.system == "gpt"]
    assert len(hosted) == len(tests) and all(g.output.startswith("Code from") for g in hosted)
    for generation in hosted:  # the endpoint's reported usage (the loopback server counts words)
        sent = json.loads(generation.prompt)
        assert generation.input_tokens == len(sent[0]["content"].split()) and generation.output_tokens == 7
        assert generation.latency_ms is not None and generation.latency_ms > 0
    again = generate_and_review(store, settings, run, systems, backend=FakeBackend())
    assert len(server.requests) == len(tests) and again.created == 0  # the cache holds
    assert again.review.id == batch.review.id and set(again.review.systems) == set(systems)

    store.close()
    assert main(["--home", str(settings.home), "systems", "list", "--json"]) == 0
    for path in Path(settings.home).rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the API key is in {path}"


def test_failed_requests_store_nothing_and_a_rerun_asks_again(store, settings, tiny_model_dir, tmp_path,
                                                               chat_server):
    _, run = distinct_run(store, settings, tiny_model_dir, tmp_path)
    server = chat_server([(500, "boom")] * 20, default=Reply("Fine now."))
    register_system(store, "flaky", server.url, "m")
    first = generate_answers(store, settings, run, [run.system, "flaky"], backend=FakeBackend())
    tests = len(store.version_rows(evaluation_version_id(run), "test"))
    assert len(first.failed) >= 1 and all("HTTP 500" in f for f in first.failed)
    assert len([g for g in first.generations if g.system == "flaky"]) == tests - len(first.failed)
    second = generate_answers(store, settings, run, [run.system, "flaky"], backend=FakeBackend())
    assert not second.failed and len([g for g in second.generations if g.system == "flaky"]) == tests


def test_few_shot_prompts_hold_train_examples_only(store, settings, tiny_model_dir, tmp_path, chat_server):
    _, run = distinct_run(store, settings, tiny_model_dir, tmp_path)
    server = chat_server(default=Reply("Code Q99Z."))
    register_system(store, "gpt", server.url, "gpt-test")
    version_id = evaluation_version_id(run)
    split_codes = {split: set().union(*(codes(row.output) for row in store.version_rows(version_id, split)))
                   for split in ("train", "validation", "test")}
    assert all(split_codes.values())
    batch = generate_answers(store, settings, run, [run.system, "fewshot:3", "gpt+fewshot"], backend=FakeBackend())
    shown = [g for g in batch.generations if g.system in ("fewshot:3", "gpt+fewshot")]
    assert len(shown) == 2 * len(store.version_rows(version_id, "test"))
    for generation in shown:
        held = codes(generation.prompt)
        assert len(held) == (3 if generation.system == "fewshot:3" else 4), generation.prompt  # default 4
        assert held <= split_codes["train"], generation.prompt
        assert not held & (split_codes["validation"] | split_codes["test"])
        assert generation.input in (json.loads(generation.prompt)[0]["content"] if generation.system == "gpt+fewshot"
                                    else generation.prompt)
    assert server.requests and all("Here are examples" in r["body"]["messages"][0]["content"]
                                   for r in server.requests)


def _generation(project_id, system, n, **figures) -> dict:
    return {"project_id": project_id, "cache_key": f"{system}-{n}", "settings_key": "k", "item_key": f"i{n}",
            "system": system, "input": f"q{n}", "prompt": f"q{n}", "output": f"a{n}", "settings": {}, **figures}


def test_costs_on_a_known_case_by_hand(store):
    project = store.create_project("Costs", "generation")
    register_system(store, "gpt", "http://127.0.0.1:9/v1", "m", price_input=2.0, price_output=8.0)
    rows = [_generation(project.id, "gpt", n, latency_ms=1000.0 * (n + 1), input_tokens=1000, output_tokens=500)
            for n in range(4)]
    rows += [_generation(project.id, "base", n, seconds=0.1 * (n + 1), latency_ms=100.0 * (n + 1),
                         input_tokens=30, output_tokens=10 + n) for n in range(4)]
    rows += [_generation(project.id, "reference", n) for n in range(4)]
    store.add_generations(rows)
    review = store.create_review(project.id, None, ["base", "gpt", "reference"], "k")
    costs = review_costs(store, review, price_per_hour=3.6)
    # gpt: (1000 x $2 + 500 x $8) per million tokens = $0.006 an answer, $6 per 1,000.
    assert costs["gpt"].kind == "hosted" and costs["gpt"].cost_per_1000_answers_usd == pytest.approx(6.0)
    assert costs["gpt"].latency_ms_median == 2500.0 and costs["gpt"].output_tokens_mean == 500
    # base: 0.25 s an answer at $3.60 an hour = $0.00025 an answer, $0.25 per 1,000; p95 of 100..400 ms is 385.
    assert costs["base"].kind == "local" and costs["base"].cost_per_1000_answers_usd == pytest.approx(0.25)
    assert costs["base"].latency_ms_median == 250.0 and costs["base"].latency_ms_p95 == 385.0
    assert costs["base"].output_tokens_mean == 11.5 and costs["base"].answers == 4
    assert costs["reference"].kind == "reference" and costs["reference"].cost_per_1000_answers_usd is None
    assert review_costs(store, review)["base"].cost_per_1000_answers_usd == 0.0  # "your hardware"
    results = Results(review.id, None, review.systems, {}, costs=costs)  # what `report --json` prints
    shape = results.to_dict()["systems"]
    assert list(shape) == ["base", "gpt", "reference"] and shape["gpt"] == {
        "kind": "hosted", "answers": 4, "latency_ms_median": 2500.0, "latency_ms_p95": 3850.0,
        "output_tokens_mean": 500.0, "cost_per_1000_answers_usd": 6.0}
    assert "costs" not in results.to_dict() and Results(1, None, ["base"], {}).to_dict()["systems"] == ["base"]
    ratings = [BradleyTerryRating("gpt", 1100, 1040, 1160, 8), BradleyTerryRating("base", 1000, 950, 1050, 8)]
    assert best_buy(ratings, costs).startswith("Best buy: base")  # its interval reaches the best's
    ratings[1] = BradleyTerryRating("base", 900, 850, 950, 8)
    assert best_buy(ratings, costs).startswith("Best buy: gpt")


def test_distill_drafts_for_the_label_tab_then_accepts_from_the_cli_at_no_cost(
        store, settings, tmp_path, chat_server, capsys):
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n".join(json.dumps({"input": f"Where is pallet {n}?"}) for n in range(5)))
    project = store.create_project("Teach", "generation")
    import_paths(store, project, [inputs])
    server = chat_server(default=Reply("In depot two."))
    register_system(store, "teacher", server.url, "big", price_input=1.0, price_output=2.0)
    first = distill(store, settings, project, "teacher", limit=3)
    assert first.to_dict()["drafted"] == 3 and first.requests == 3 and first.cached == 0 and first.failed == 0
    assert first.cost_usd > 0 and len(server.requests) == 3
    task = next_task(store, project, "ana")  # the Label tab starts from the teacher's draft
    assert task.output == "In depot two." and task.output_draft == "In depot two."
    store.release_lease(task.item.id, "ana")
    store.close()
    assert main(["--home", str(settings.home), "distill", "--project", "Teach", "--teacher", "teacher",
                 "--limit", "3", "--accept", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload == {"drafted": 3, "requests": 0, "cached": 3, "failed": 0, "cost_usd": 0.0}
    assert len(server.requests) == 3  # a rerun asked nothing again
    from ftstudio.store import open_store

    reopened = open_store(settings.database_path)
    examples = reopened.list_examples(project.id)
    assert len(examples) == 3 and {e.origin for e in examples} == {"teacher"}
    assert {e.output for e in examples} == {"In depot two."}
    reopened.close()


def test_the_systems_commands(settings, capsys, chat_server):
    home = str(settings.home)
    assert main(["--home", home, "systems", "add", "gpt", "--url", "http://127.0.0.1:9/v1", "--model", "m",
                 "--price-input", "0.15", "--price-output", "0.6", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["name"] == "gpt" and added["price_output_usd_per_m"] == 0.6
    assert main(["--home", home, "systems", "add", "bad name", "--url", "http://x/v1", "--model", "m"]) == 2
    assert main(["--home", home, "systems", "add", "x", "--url", "localhost:8000", "--model", "m"]) == 2
    capsys.readouterr()
    assert main(["--home", home, "systems", "list", "--json"]) == 0
    assert [row["name"] for row in json.loads(capsys.readouterr().out)] == ["gpt"]
    assert main(["--home", home, "systems", "remove", "gpt"]) == 0
    assert main(["--home", home, "systems", "remove", "gpt"]) == 2
