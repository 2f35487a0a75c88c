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
