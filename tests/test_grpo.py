"""GRPO with verifiable rewards: the reward functions on hand-made completions, a user's reward by path, the judge
reward against a loopback OpenAI-compatible server, and a 3-step GRPO run on a 10-example JSON task."""

import json
from pathlib import Path

import pytest

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.training.config import TrainConfig
from ftstudio.training.judge_reward import JudgeReward, parse_score
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.training.rewards import (RewardError, batched, exact_match, json_schema, label_match, length,
                                       load_user_reward, parse_reward_names)
from ftstudio.versions import SplitPlan, freeze_version

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "pallets": {"type": "integer"}},
          "required": ["city", "pallets"]}


def test_json_schema_reward_scores_valid_invalid_and_no_json():
    example = {"json_schema": SCHEMA}
    assert json_schema("", '{"city": "Ghent", "pallets": 3}', example) == 1.0
    assert json_schema("", 'Sure! ```json\n{"city": "Ghent", "pallets": 3}\n```', example) == 1.0
    assert json_schema("", '{"city": "Ghent", "pallets": "three"}', example) == 0.5
    assert json_schema("", "Ghent, three pallets", example) == 0.0


def test_label_exact_and_length_rewards():
    example = {"label": "phishing", "labels": ["phishing", "legitimate"], "reference": "phishing"}
    assert label_match("", "Phishing.", example) == 1.0
    assert label_match("", "phishing or legitimate", example) == 0.0  # naming every label is no answer
    assert label_match("", "legitimate", example) == 0.0
    assert exact_match("", "  Pallet 3 is in Ghent ", {"reference": "pallet 3 is in  ghent"}) == 1.0
    assert exact_match("", "Pallet 4", {"reference": "Pallet 3"}) == 0.0
    assert length("", "x" * 10, {"reference": "y" * 10}) == 1.0
    assert length("", "x" * 15, {"reference": "y" * 10}) == 0.5
    assert length("", "", {"reference": "y" * 10}) == 0.0 and length("", "x", {"reference": ""}) is None


def test_reward_names_are_checked_and_a_users_reward_loads_by_path(tmp_path):
    assert parse_reward_names("json_schema, length") == ["json_schema", "length"]
    with pytest.raises(RewardError, match="Unknown reward 'jsonschema'"):
        parse_reward_names("jsonschema")
    (tmp_path / "mine.py").write_text("def polite(prompt, completion, example):\n"
                                      "    return 1.0 if 'please' in completion else 0.0\n")
    polite = load_user_reward(f"{tmp_path / 'mine.py'}:polite")
    score = batched("polite", polite, {})
    assert score.__name__ == "polite"
    assert score(prompts=["a", "b"], completions=["please", "no"], label=["x", "y"]) == [1.0, 0.0]


def test_the_judge_reward_asks_a_loopback_judge_once_per_answer(chat_server, tmp_path):
    from ftstudio.bench.chat_server import Reply

    server = chat_server(default=Reply("7"))
    judge = JudgeReward({"base_url": server.url, "model": "judge", "concurrency": 2}, tmp_path)
    assert judge(prompts=["q", "q", "q"], completions=["a", "b", "a"]) == [pytest.approx(6 / 9)] * 3
    asked = len(server.requests)
    assert asked == 2  # "a" twice: asked once
    again = JudgeReward({"base_url": server.url, "model": "judge"}, tmp_path)  # a resumed run: the cache file
    again(prompts=["q"], completions=["b"])
    assert len(server.requests) == asked
    assert parse_score("Score: 10/10") == 1.0 and parse_score("no idea") is None


@pytest.fixture
def json_task(store, settings, tiny_model_dir, tmp_path):
    settings.base_model = str(tiny_model_dir)
    project = store.create_project("extract", "structured", json_schema=SCHEMA)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Pallet note {n}: {n} pallets to Ghent.",
                                           "response": json.dumps({"city": "Ghent", "pallets": n})})
                               for n in range(10)))
    import_paths(store, project, [pairs])
    freeze_version(store, project, Template("chat"), SplitPlan((0.8, 0.2, 0.0)))
    return project


def test_grpo_needs_a_reward_it_can_compute(store, settings, json_task):
    manager = RunManager(store, settings)
    with pytest.raises(RunError, match="needs the judge's endpoint"):
        manager.create_run(json_task, "v1", TrainConfig(objective="grpo", max_steps=1), queue=False,
                           options={"reward": "judge"})
    with pytest.raises(RunError, match="no labels"):
        manager.create_run(json_task, "v1", TrainConfig(objective="grpo", max_steps=1), queue=False,
                           options={"reward": "label_match"})


def test_grpo_runs_three_steps_with_the_json_schema_reward_logged(store, settings, json_task):
    manager = RunManager(store, settings)
    config = TrainConfig(objective="grpo", max_steps=3, batch_size=2, max_length=128, save_steps=3,
                         learning_rate=1e-3)
    run_id = manager.create_run(json_task, "v1", config, options={"reward": "json_schema,length",
                                                                  "num_generations": 2, "max_new_tokens": 8})
    run = manager.wait(run_id, interval=0.5, timeout=600)
    assert run.status == "finished", (Path(run.run_dir) / "worker.log").read_text()[-3000:]
    assert run.method == "grpo" and run.step == 3
    metrics = [json.loads(line) for line in (Path(run.run_dir) / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if "rewards/json_schema/mean" in m]
    assert len(steps) == 3 and all("reward" in m and "rewards/length/mean" in m for m in steps)
    assert (Path(run.run_dir) / "adapter" / "adapter_config.json").exists()
    from ftstudio.training.results import curves
    from ftstudio.ui.run_charts import rewards_figure

    curve = curves(Path(run.run_dir))
    assert len(curve["rewards"]["rewards/json_schema/mean"]) == 3 and curve["rewards"]["reward"]
    assert {"mean reward (sum)", "json_schema", "length"} <= {trace.name for trace in rewards_figure(curve).data}
