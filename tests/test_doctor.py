"""`ftstudio doctor`: the machine report here, and the GPU check's clean refusal on a machine without a GPU (the
check itself runs only on a GPU: `make gpu-check`, DEVELOPERS.md)."""

import json

import pytest
import torch

from ftstudio.bench.gpu_check import GOAL_MFU, synthetic_rows
from ftstudio.cli import main


def test_doctor_reports_the_machine(capsys):
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gpus"] == torch.cuda.device_count() and "vllm" in report["installed"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: run `make gpu-check` instead")
def test_the_gpu_check_refuses_without_a_gpu_and_says_what_to_do(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "doctor", "--gpu", "--json"]) == 2
    error = capsys.readouterr().err
    assert "needs a CUDA GPU" in error and "ftstudio doctor --gpu" in error


def test_the_checks_data_fills_packed_batches():
    rows = synthetic_rows(8)
    assert len(rows) == 8 and all(len(r["completion"]) > 500 for r in rows) and GOAL_MFU == 0.30
