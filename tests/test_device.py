"""Precision follows the device: bf16 only where it is measured or known to be native."""


import pytest
import torch

from ftstudio.training import device
from ftstudio.training.config import TrainConfig


@pytest.mark.parametrize("speedup, expected", [(2.1, torch.bfloat16), (1.2, torch.float32), (0.1, torch.float32)])
def test_auto_picks_bf16_on_a_cpu_only_where_its_bf16_matmul_is_measured_faster(monkeypatch, speedup, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "cpu_bf16_matmul_speedup", lambda: speedup)
    precision = device.choose_precision(TrainConfig())
    assert precision.dtype == expected
    assert f"{speedup:.1f}x" in precision.why
    # On a CPU the weights take the dtype and autocast stays off (the adapter runs in fp32 under PEFT).
    assert not precision.bf16 and not precision.cuda


def test_an_explicit_dtype_wins_over_the_measurement(monkeypatch):
    monkeypatch.setattr(device, "cpu_bf16_matmul_speedup", lambda: 9.0)
    precision = device.choose_precision(TrainConfig(compute_dtype="float32"))
    assert precision.dtype == torch.float32 and precision.why == "compute_dtype: float32"


def test_the_cpu_measurement_is_a_positive_ratio_and_taken_once():
    device.cpu_bf16_matmul_speedup.cache_clear()
    first = device.cpu_bf16_matmul_speedup()
    assert first > 0 and device.cpu_bf16_matmul_speedup() == first


@pytest.mark.skipif(not hasattr(__import__("os"), "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_a_worker_yields_to_the_app_with_the_idle_policy_and_a_lower_priority():
    """What a training or generation child does first: nice 10 and, by default, SCHED_IDLE (people's clicks in
    the app come first); FTSTUDIO_WORKER_SCHED=normal keeps the ordinary policy."""
    import os
    import subprocess
    import sys

    probe = ("import os; from ftstudio.training.device import yield_to_the_app; yield_to_the_app(); "
             "print(os.sched_getscheduler(0) == os.SCHED_IDLE, os.nice(0))")
    for policy, idle in (("idle", "True"), ("normal", "False")):
        env = {**os.environ, "FTSTUDIO_WORKER_SCHED": policy, "FTSTUDIO_WORKER_NICE": "10"}
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        was_idle, niceness = out.stdout.split()
        assert was_idle == idle
        assert int(niceness) >= 10
