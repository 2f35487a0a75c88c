"""Encoder-decoder runs on a tiny random T5: trained in a child process, then generated for review like a causal
model (base and tuned from one loaded model) and scored with ROUGE."""

import json
from pathlib import Path

import torch
import yaml

from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.generations import BASE, DecodingSettings
from ftstudio.evaluation.metrics import metrics_table
from ftstudio.importing import import_paths
from ftstudio.models import SEQ2SEQ, family_of
from ftstudio.templates import Template
from ftstudio.training.config import TrainConfig
from ftstudio.training.folders import latest_complete_checkpoint
from ftstudio.training.manager import RunManager
from ftstudio.versions import SplitPlan, freeze_version
from tests.conftest import wait_until


def summaries_project(store, settings, tiny_t5_dir, tmp_path):
    settings.base_model = str(tiny_t5_dir)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"prompt": f"summarize : where is pallet {n % 10} ? depot {n % 4}",
                                           "completion": f"pallet {n % 10} is in depot {n % 4} ."})
                               for n in range(30)))
    project = store.create_project("summaries", "generation")
    import_paths(store, project, [pairs])
    freeze_version(store, project, Template("instruction"), SplitPlan((0.7, 0.3, 0.0)))
    return project


def test_a_t5_lora_run_cancels_resumes_trains_q_and_v_and_is_reviewed_with_rouge(store, settings, tiny_t5_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSeq2SeqLM

    assert family_of(str(tiny_t5_dir)) == SEQ2SEQ
    project = summaries_project(store, settings, tiny_t5_dir, tmp_path)
    manager = RunManager(store, settings)
    # One run for training, cancel and resume: enough steps that the cancel surely lands before the end.
    run_id = manager.create_run(project, "v1", TrainConfig(max_steps=60, batch_size=4, max_length=64, eval_steps=30,
                                                           save_steps=2, learning_rate=5e-3))
    wait_until(lambda: manager.poll() or store.get_run(run_id).step >= 2, timeout=120, what="the run's step 2")
    manager.cancel(run_id)
    run = manager.wait(run_id, interval=0.3, timeout=120)
    assert run.status == "cancelled" and run.step < 60
    assert latest_complete_checkpoint(Path(run.run_dir)) is not None
    manager.resume(run_id)
    run = manager.wait(run_id, interval=0.5, timeout=300)
    run_dir = Path(run.run_dir)
    assert run.status == "finished" and run.step == 60, (run_dir / "worker.log").read_text()[-2000:]
    assert run.status == "finished", (run_dir / "worker.log").read_text()[-3000:]
    assert yaml.safe_load((run_dir / "run.yaml").read_text())["recipe"] == "seq2seq"
    assert run.eval_loss is not None

    base = AutoModelForSeq2SeqLM.from_pretrained(tiny_t5_dir)
    original = {k: v.clone() for k, v in base.state_dict().items()}
    tuned = PeftModel.from_pretrained(base, run_dir / "adapter")
    adapted = {n.split(".lora_B")[0].split(".")[-1] for n, _ in tuned.named_parameters() if "lora_B" in n}
    assert adapted == {"q", "v"}
    assert any(p.abs().sum() > 0 for n, p in tuned.named_parameters() if "lora_B" in n)
    for name, value in tuned.get_base_model().state_dict().items():
        key = name.replace(".base_layer", "")
        if key in original and "lora_" not in name:
            assert torch.equal(value, original[key]), f"base weight {key} changed"

    batch = generate_and_review(store, settings, run, split="validation",
                                decoding=DecodingSettings(max_new_tokens=8, batch_size=8))
    assert batch.state == "finished" and set(batch.systems) == {run.system, BASE}
    by_system = {system: {g.item_key for g in batch.generations if g.system == system} for system in batch.systems}
    assert by_system[run.system] == by_system[BASE] and len(by_system[BASE]) >= 3  # every input, both systems
    metrics = metrics_table(store, batch.review)
    assert {row["system"] for row in metrics} == {run.system, BASE}
    assert all(row.get("rougeL") is not None for row in metrics)
