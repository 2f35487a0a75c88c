"""Data-parallel training for real: two processes joined over gloo by accelerate and torch.distributed, on the CPU."""

from pathlib import Path

import psutil
import pytest

from ftstudio.child_process import start_child
from ftstudio.run_folder import RunFolder
from ftstudio.training.config import TrainConfig
from ftstudio.training.distributed import accelerate_config, global_batch, shard_memory
from ftstudio.training.manager import RunManager, worker_command
from ftstudio.training.prepare import RunError
from tests.conftest import wait_until
from tests.test_training import frozen  # noqa: F401  (the fixture: a frozen version of 40 pairs)

# Same examples per step, the same seed: the per-step losses of 1 and 2 processes agree to float rounding (gradients
# are averaged in a different order), so 0.1% relative is ample and still fails on a different batch or scale.
LOSS_TOLERANCE = 1e-3


def tiny(**overrides) -> TrainConfig:
    return TrainConfig(**{"max_steps": 4, "max_length": 64, "eval_steps": 0, "save_steps": 50,
                          "learning_rate": 5e-3, "batching": "padding", "compile": "off", **overrides})


def losses(run_dir) -> dict[int, float]:
    """The training loss at each step (a step logged again after a resume: its last value)."""
    return {m["step"]: m["loss"] for m in RunFolder(run_dir).read_metrics(0)[0] if "loss" in m}


def _group(pid: int) -> list[psutil.Process]:
    launcher = psutil.Process(pid)
    return [launcher, *launcher.children(recursive=True)]


def test_two_processes_cancel_resume_and_reach_the_losses_of_one(store, settings, frozen):  # noqa: F811
    """One run on 2 processes over gloo (per-device batch 2) beside the same run on 1 process (batch 4): cancel
    stops every process of the 2, resume continues from their shared checkpoint, and every step's loss matches."""
    manager = RunManager(store, settings)
    steps = 12
    one = store.get_run(manager.create_run(frozen, "v1", tiny(batch_size=4, max_steps=steps), queue=False))
    run_id = manager.create_run(frozen, "v1", tiny(batch_size=2, processes=2, max_steps=steps, save_steps=2),
                                queue=False)
    spec = RunFolder(store.get_run(run_id).run_dir).spec
    assert spec.world_size == 2 and spec.global_batch == 4 == global_batch(tiny(batch_size=4))
    single = start_child(worker_command(Path(one.run_dir)), Path(one.run_dir))  # alongside, to save time
    manager.queue(run_id)
    wait_until(lambda: manager.poll() or store.get_run(run_id).step >= 2, timeout=120, what="step 2 on 2 processes")
    processes = _group(store.get_run(run_id).pid)
    workers = [p for p in processes if "ftstudio.training.worker" in " ".join(p.cmdline())]
    assert len(workers) >= 2  # the two ranks, under accelerate's launcher
    manager = RunManager(store, settings)  # as after an app restart: it re-attaches to the live launcher by its pid
    manager.reattach()
    assert store.get_run(run_id).status == "running"
    manager.cancel(run_id)
    run = manager.wait(run_id, interval=0.3, timeout=120)
    log = (Path(run.run_dir) / "worker.log").read_text()
    assert run.status == "cancelled" and run.step < steps, log[-3000:]
    _, alive = psutil.wait_procs(processes, timeout=30)
    assert not alive, f"survivors: {[p.pid for p in alive]}"
    manager.resume(run_id)
    run = manager.wait(run_id, interval=0.3, timeout=300)
    assert run.status == "finished" and run.step == steps, (Path(run.run_dir) / "worker.log").read_text()[-3000:]
    assert (Path(run.run_dir) / "adapter" / "adapter_config.json").exists()
    assert single.wait(timeout=300) == 0, (Path(one.run_dir) / "worker.log").read_text()[-3000:]
    one_losses, two_losses = losses(one.run_dir), losses(run.run_dir)
    assert sorted(one_losses) == sorted(two_losses) == list(range(1, steps + 1))
    print("max relative loss difference:", max(abs(l - two_losses[s]) / abs(l) for s, l in one_losses.items()))
    for step, loss in one_losses.items():
        assert abs(loss - two_losses[step]) <= LOSS_TOLERANCE * abs(loss), (step, one_losses, two_losses)


def test_sharding_is_refused_without_gpus_and_divides_memory(store, settings, frozen):  # noqa: F811
    manager = RunManager(store, settings)
    with pytest.raises(RunError, match="has none"):
        manager.create_run(frozen, "v1", tiny(processes=2, sharding="fsdp"), queue=False)
    with pytest.raises(ValueError, match="processes must be between 1 and 64"):
        tiny(processes=0).check()
    parts = {"weights": 800, "adapter+optimizer": 160, "activations": 100, "logits": 10}
    assert shard_memory(parts, tiny(processes=4), cuda=True) == (parts, 1)
    zero3, _ = shard_memory(parts, tiny(processes=4, sharding="deepspeed-zero3"), cuda=True)
    assert zero3 == {"weights": 200, "adapter+optimizer": 40, "activations": 100, "logits": 10}
    zero2, _ = shard_memory(parts, tiny(processes=4, sharding="deepspeed-zero2"), cuda=True)
    assert zero2["weights"] == 800 and zero2["adapter+optimizer"] == 40 + 30
    assert shard_memory(parts, tiny(processes=2), cuda=False)[1] == 2  # two processes in one RAM
    from transformers import LlamaConfig

    from ftstudio.training.memory import estimate_memory

    shape = LlamaConfig(hidden_size=512, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8,
                        vocab_size=8000)
    alone = estimate_memory(shape, tiny(), False, 2**36, "CPU")
    assert estimate_memory(shape, tiny(processes=2), False, 2**36, "CPU").needed_bytes == 2 * alone.needed_bytes
    gpu = estimate_memory(shape, tiny(processes=4), True, 2**36, "GPU")
    sharded = estimate_memory(shape, tiny(processes=4, sharding="fsdp"), True, 2**36, "GPU")
    assert sharded.parts["weights"] == gpu.parts["weights"] // 4 and sharded.needed_bytes < gpu.needed_bytes
    assert sharded.parts["activations"] == gpu.parts["activations"]  # each GPU still holds its own batch's
    assert accelerate_config(tiny(processes=2, sharding="fsdp"), 1234)["distributed_type"] == "FSDP"
    assert accelerate_config(tiny(processes=2, sharding="deepspeed-zero2"), 1)["deepspeed_config"]["zero_stage"] == 2
