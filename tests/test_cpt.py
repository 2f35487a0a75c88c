"""Continued pre-training: raw text frozen as a text version, a CPT run on the tiny random Llama whose loss falls,
and an SFT run that starts from the CPT run's adapter."""

import json
from pathlib import Path

import pytest
import torch

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.training.config import TrainConfig
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.versions import SplitPlan, VersionError, freeze_text_version, freeze_version

TOPICS = ["dashboards", "forecasts", "pallets", "depots", "invoices", "drivers"]


def posts(count: int) -> str:
    return "\n---\n".join(f"Post {n}: {TOPICS[n % 6]} nobody reads cost more than they show. Forecasts beat gut "
                          f"feeling when the data is clean, said the {TOPICS[(n + 1) % 6]} team on day {n}."
                          for n in range(count))


@pytest.fixture
def blog(store, settings, tiny_model_dir, tmp_path):
    settings.base_model = str(tiny_model_dir)
    project = store.create_project("blog", "generation")
    (tmp_path / "posts.md").write_text(posts(40))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"What about {TOPICS[n % 6]} {n}?",
                                           "response": f"The {TOPICS[n % 6]} cost more than they show."})
                               for n in range(20)))
    import_paths(store, project, [tmp_path / "posts.md", pairs])
    return project


def test_a_text_version_freezes_every_items_text_split_and_hashed(store, blog):
    version = freeze_text_version(store, blog, name="raw")
    assert version.kind == "text" and version.is_text and version.template == {}
    counts = version.counts
    assert counts["train"] + counts["validation"] + counts["test"] == store.count_items(blog.id)
    assert counts["validation"] > 0 and counts["test"] == 0  # the text plan: 0.9, 0.1, 0
    rows = store.version_rows(version.id)
    assert all(row.input and row.output is None and row.label is None for row in rows)
    assert freeze_text_version(store, blog).name == "raw"  # unchanged text: the same version
    other = store.create_project("empty", "generation")
    with pytest.raises(VersionError, match="no items with text"):
        freeze_text_version(store, other)


def test_the_cli_freezes_a_text_version(settings, blog, capsys):
    from ftstudio.cli import main

    assert main(["--home", str(settings.home), "freeze", "--project", "blog", "--kind", "text", "--json"]) == 0
    frozen = json.loads(capsys.readouterr().out)
    assert frozen["kind"] == "text" and frozen["counts"]["train"] > 0


def test_the_objective_follows_the_versions_kind(store, settings, blog):
    freeze_version(store, blog, Template("chat"), SplitPlan((0.8, 0.2, 0.0)), name="pairs")
    freeze_text_version(store, blog, name="raw")
    manager = RunManager(store, settings)
    with pytest.raises(RunError, match="holds raw text"):
        manager.create_run(blog, "raw", TrainConfig(max_steps=1), queue=False)
    with pytest.raises(RunError, match="not a text version"):
        manager.create_run(blog, "pairs", TrainConfig(objective="cpt", max_steps=1), queue=False)


def cpt_config(**overrides) -> TrainConfig:
    return TrainConfig(**{"objective": "cpt", "max_steps": 8, "batch_size": 4, "max_length": 64, "eval_steps": 4,
                          "save_steps": 4, "learning_rate": 5e-3, "warmup_ratio": 0.0, **overrides})


def test_cpt_trains_packed_raw_text_then_sft_starts_from_its_adapter(store, settings, blog):
    from safetensors.torch import load_file

    freeze_text_version(store, blog, name="raw")
    freeze_version(store, blog, Template("chat"), SplitPlan((0.8, 0.2, 0.0)), name="pairs")
    manager = RunManager(store, settings)
    cpt = manager.wait(manager.create_run(blog, "raw", cpt_config()), interval=0.5, timeout=600)
    log = (Path(cpt.run_dir) / "worker.log").read_text()
    assert cpt.status == "finished", log[-3000:]
    assert cpt.method == "cpt"
    metrics = [json.loads(line) for line in (Path(cpt.run_dir) / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert len(losses) == 8 and losses[-1] < losses[0]  # the loss on every token falls
    assert any("eval_perplexity" in m for m in metrics)
    spec = json.loads(json.dumps(__import__("yaml").safe_load((Path(cpt.run_dir) / "run.yaml").read_text())))
    assert spec["recipe"] == "cpt" and spec["dataset_version"]["kind"] == "text"

    # An SFT run from the CPT run, at a learning rate too small to move anything in its one step: its adapter is
    # the CPT adapter, loaded and trained on, not a new one (whose LoRA B would be zeros).
    sft = manager.wait(manager.create_run(blog, "pairs", TrainConfig(
        max_steps=1, batch_size=4, max_length=64, eval_steps=0, learning_rate=1e-12, warmup_ratio=0.0,
        from_run=cpt.id)), interval=0.5, timeout=600)
    assert sft.status == "finished", (Path(sft.run_dir) / "worker.log").read_text()[-3000:]
    assert "starting from the adapter" in (Path(sft.run_dir) / "worker.log").read_text()
    before = load_file(Path(cpt.run_dir) / "adapter" / "adapter_model.safetensors")
    after = load_file(Path(sft.run_dir) / "adapter" / "adapter_model.safetensors")
    assert set(before) == set(after)
    assert any(key.endswith("lora_B.weight") and before[key].abs().sum() > 0 for key in before)
    for key, value in before.items():
        assert torch.allclose(value, after[key], atol=1e-6), key
    # Reviewed by default against the run it started from and the base model: the chain's end, start and base.
    from ftstudio.evaluation.compare import default_systems
    from ftstudio.evaluation.systems import BASE

    assert default_systems(store, sft) == [sft.system, cpt.system, BASE]
    from ftstudio.training.results import curves

    assert curves(Path(cpt.run_dir))["perplexity"]  # the validation perplexity's curve
