"""Training runs in real child processes on the tiny random Llama (and once on the embedded model)."""

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.training.config import TrainConfig
from ftstudio.training.folders import latest_complete_checkpoint, read_status
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.versions import SplitPlan, freeze_version
from ftstudio.training.device import cpp_compiler
from tests.conftest import wait_until


@pytest.fixture
def frozen(store, settings, tiny_model_dir, tmp_path):
    settings.base_model = str(tiny_model_dir)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Where is pallet {n}?",
                                           "response": f"Pallet {n} is in depot {n % 4}, forecasts say {n * 3}."})
                               for n in range(40)))
    project = store.create_project("replies", "generation")
    import_paths(store, project, [pairs])
    freeze_version(store, project, Template("chat"), SplitPlan((0.8, 0.2, 0.0)))
    return project


def small(**overrides) -> TrainConfig:
    return TrainConfig(**{"max_steps": 6, "batch_size": 4, "max_length": 128, "eval_steps": 3, "save_steps": 2,
                          "learning_rate": 5e-3, **overrides})


def test_a_run_trains_lora_in_a_child_and_leaves_the_base_untouched(store, settings, frozen, tiny_model_dir):
    """One child for both: a plain LoRA run, with its layers compiled where there is a C++ compiler (the compiled
    path saves the same plain PEFT adapter; the uncompiled one is every other run's)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    compiled = bool(cpp_compiler())
    manager = RunManager(store, settings)
    run_id = manager.create_run(frozen, "v1", small(compile="on" if compiled else "off"))
    run = manager.wait(run_id, interval=0.5, timeout=600)
    log = (Path(run.run_dir) / "worker.log").read_text()
    assert run.status == "finished", log[-3000:]
    assert run.step == 6 and run.train_loss is not None and run.eval_loss is not None
    if compiled:
        assert "compile: on" in log
    adapter = Path(run.run_dir) / "adapter"
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()

    # layer.compile() keeps parameter names, so the adapter is a plain PEFT adapter.
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    original = {k: v.clone() for k, v in base.state_dict().items()}
    tuned = PeftModel.from_pretrained(base, adapter)
    lora_b = [p for n, p in tuned.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # initialised at zero: training moved them
    for name, value in tuned.get_base_model().state_dict().items():
        key = name.replace(".base_layer", "")
        if key in original:
            assert torch.equal(value, original[key]), f"base weight {key} changed"
    metrics = [json.loads(l) for l in (Path(run.run_dir) / "metrics.jsonl").read_text().splitlines()]
    assert any("eval_loss" in m for m in metrics) and any("tokens_per_second" in m for m in metrics)


def test_cancel_resume_and_a_killed_child_leave_the_app_healthy_and_reach_the_planned_steps(store, settings, frozen):
    """One run: cancelled (it stops at a checkpoint), resumed, its child then killed (the app stays healthy, the
    run reads interrupted), resumed again to the planned steps."""
    manager = RunManager(store, settings)
    # Enough steps that the cancel and the kill surely land before the end, however fast the machine.
    run_id = manager.create_run(frozen, "v1", small(max_steps=60, save_steps=2, eval_steps=30))
    wait_until(lambda: manager.poll() or store.get_run(run_id).step >= 2, timeout=300, what="the run's step 2")
    manager.cancel(run_id)
    run = manager.wait(run_id, interval=0.5, timeout=600)
    assert run.status == "cancelled" and run.step < 60
    assert latest_complete_checkpoint(Path(run.run_dir)) is not None
    manager.resume(run_id)
    cancelled_at = run.step
    wait_until(lambda: manager.poll() or store.get_run(run_id).step >= cancelled_at + 3, timeout=300,
               what="3 more steps after the resume")
    run = store.get_run(run_id)
    assert run.status == "running"
    os.killpg(os.getpgid(run.pid), signal.SIGKILL)
    run = manager.wait(run_id, interval=0.3, timeout=600)
    assert run.status == "interrupted"
    assert store.count_items(frozen.id) == 40  # the database is fine
    manager.resume(run_id)
    run = manager.wait(run_id, interval=0.5, timeout=600)
    assert run.status == "finished" and run.step == 60, (Path(run.run_dir) / "worker.log").read_text()[-2000:]


def test_a_run_that_cannot_fit_is_refused_with_numbers(store, settings, frozen):
    manager = RunManager(store, settings)
    with pytest.raises(RunError, match=r"needs about .* GiB .* available"):
        # Packed batches are full to max length whatever the examples' lengths (the estimate now follows the
        # version's real lengths, which are short here).
        manager.create_run(frozen, "v1", small(batch_size=4096, max_length=8192, batching="packing"))
    with pytest.raises(RunError, match="no version"):
        manager.create_run(frozen, "v9", small())
    with pytest.raises(ValueError, match="method must be"):
        manager.create_run(frozen, "v1", small(method="fine"))
    with pytest.raises(RunError, match="Method full does not apply to a causal model: choose lora or qlora"):
        manager.create_run(frozen, "v1", small(method="full"))  # full fine-tuning is for encoders
    assert store.list_runs() == []


def test_the_memory_estimate_follows_the_compute_dtype():
    from types import SimpleNamespace

    from ftstudio.training.memory import estimate_memory

    shape = SimpleNamespace(hidden_size=576, num_hidden_layers=30, vocab_size=49152, intermediate_size=1536,
                            num_attention_heads=9)
    config = small(batch_size=8, max_length=1024)
    fp32 = estimate_memory(shape, config, False, 2**40, "CPU (RAM)", value_bytes=4)
    bf16 = estimate_memory(shape, config, False, 2**40, "CPU (RAM)", value_bytes=2)
    assert bf16.parts["weights"] * 2 == fp32.parts["weights"]
    assert bf16.parts["activations"] * 2 == fp32.parts["activations"]
    assert bf16.parts["adapter+optimizer"] == fp32.parts["adapter+optimizer"]  # the adapter trains in fp32
    # fp32 chosen on a GPU is counted at 4 bytes, not at the 2 a GPU would otherwise assume.
    assert estimate_memory(shape, config, True, 2**40, "GPU", value_bytes=4).parts["weights"] == fp32.parts["weights"]
    assert estimate_memory(shape, config, False, 2**40, "CPU (RAM)").parts["weights"] == fp32.parts["weights"]


def test_qlora_runs_on_the_cpu(store, settings, frozen):
    manager = RunManager(store, settings)
    run_id = manager.create_run(frozen, "v1", small(method="qlora", max_steps=3, eval_steps=0))
    run = manager.wait(run_id, interval=0.5, timeout=600)
    assert run.status == "finished", (Path(run.run_dir) / "worker.log").read_text()[-3000:]
    config = json.loads((Path(run.run_dir) / "adapter" / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"


def test_cli_trains_prepares_runs_elsewhere_and_imports(tmp_path, tiny_model_dir):
    import shutil
    import subprocess
    import sys

    home = str(tmp_path / "home")

    def cli(*args, check=True):
        result = subprocess.run([sys.executable, "-m", "ftstudio", "--home", home, "--base-model", str(tiny_model_dir),
                                 *args], capture_output=True, text=True, timeout=300)
        if check:
            assert result.returncode == 0, result.stderr[-3000:]
        return result

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"prompt": f"Idea {n}", "completion": f"Post about idea {n}."})
                               for n in range(20)))
    cli("import", str(pairs), "--project", "posts")
    cli("freeze", "--project", "posts", "--template", "alpaca")
    trained = json.loads(cli("train", "--project", "posts", "--version", "v1", "--max-steps", "3",
                             "--max-length", "256", "--eval-steps", "0", "--json").stdout)
    assert trained["status"] == "finished" and trained["step"] == 3

    prepared = json.loads(cli("train", "--project", "posts", "--version", "v1", "--max-steps", "2",
                              "--max-length", "256", "--prepare-only", "--json").stdout)
    elsewhere = tmp_path / "cluster" / Path(prepared["run_dir"]).name
    shutil.copytree(prepared["run_dir"], elsewhere)
    worker = subprocess.run([sys.executable, "-m", "ftstudio", "train", "--run-dir", str(elsewhere)],
                            capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert read_status(elsewhere)["state"] == "finished"
    shutil.rmtree(prepared["run_dir"])  # as if it had been trained on another machine only
    imported = json.loads(cli("runs", "import", str(elsewhere), "--project", "posts", "--json").stdout)
    assert imported["status"] == "finished" and imported["step"] == 2
    listed = json.loads(cli("runs", "--json").stdout)
    assert {r["status"] for r in listed} >= {"finished", "prepared"} and len(listed) == 3


@pytest.mark.slow
def test_the_embedded_model_trains_two_steps(store, embedded_settings):
    """The real SmolLM2-135M-Instruct: two LoRA steps on the sample posts, in a real child process."""
    from ftstudio.samples import load_sample_projects

    settings = embedded_settings
    load_sample_projects(store, settings)
    project = store.find_project("Sample: LinkedIn posts")
    from ftstudio.labeling import decide, next_task

    for n in range(8):
        task = next_task(store, project, "maya")
        decide(store, project, "maya", task.item.id, "accepted", f"A post about lesson {n}", task.output)
    freeze_version(store, project, Template("chat"), SplitPlan((0.75, 0.25, 0.0)))
    manager = RunManager(store, settings)
    run_id = manager.create_run(project, "v1", TrainConfig(max_steps=2, batch_size=2, max_length=512, eval_steps=0))
    run = manager.wait(run_id, interval=1.0, timeout=600)
    assert run.status == "finished", (Path(run.run_dir) / "worker.log").read_text()[-3000:]
    assert run.step == 2 and 0 < run.train_loss < 10


def test_runs_prepared_in_the_same_second_get_their_own_folders(tmp_path):
    from ftstudio.training.prepare import new_run_folder
    folders = [new_run_folder(tmp_path / "runs", "Replies", "v1") for _ in range(3)]
    assert len({folder.name for folder in folders}) == 3 and all(folder.is_dir() for folder in folders)


def test_settings_are_checked_in_the_users_words():
    with pytest.raises(ValueError) as error:
        TrainConfig(learning_rate=1000, max_steps=-3).check()
    text = str(error.value)
    assert "learning rate must be above 0 and at most 0.1" in text and "max steps must be 0" in text
    assert "learning_rate" not in text and "max_steps" not in text


def test_a_diverging_loss_stops_the_run_with_the_reason(tmp_path):
    from types import SimpleNamespace

    from ftstudio.training.harness import studio_callbacks as _callbacks

    (callback,) = _callbacks(tmp_path, 0.0, divergence_factor=3.0, learning_rate=1000)
    control = SimpleNamespace(should_training_stop=False)
    for step, loss in enumerate([3.5, 4.0, 9.0], start=1):
        callback.on_log(None, SimpleNamespace(global_step=step, max_steps=10, epoch=0), control, logs={"loss": loss})
    assert not control.should_training_stop
    callback.on_log(None, SimpleNamespace(global_step=4, max_steps=10, epoch=0), control, logs={"loss": 28.0})
    assert control.should_training_stop and "from 3.5 at the start to 28 at step 4" in callback.diverged
    assert "Lower the learning rate (it was 1000" in callback.diverged
    nan = _callbacks(tmp_path, 0.0, divergence_factor=3.0)[0]
    control = SimpleNamespace(should_training_stop=False)
    for loss in (2.0, float("nan")):
        nan.on_log(None, SimpleNamespace(global_step=1, max_steps=10, epoch=0), control, logs={"loss": loss})
    assert control.should_training_stop and "not a number" in nan.diverged


def test_a_failed_run_keeps_the_workers_reason(store, settings, frozen):
    manager = RunManager(store, settings)
    run_id = manager.create_run(frozen, "v1", small(), queue=False)
    run = store.get_run(run_id)
    (Path(run.run_dir) / "data" / "train.jsonl").write_text("not json\n")  # as a broken copy would be
    store.update_run(run_id, status="queued")
    manager.start_next()
    run = manager.wait(run_id, interval=0.5, timeout=300)
    assert run.status == "failed" and run.error and "Error" in run.error
    from ftstudio.training.results import progress_text

    assert run.error in progress_text(run, {})
