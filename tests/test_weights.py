"""The data-free weight check: WeightWatcher's alpha per layer of a tiny LoRA run, merged, beside its base."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ftstudio.evaluation.weights import WEIGHTS_FILE, WeightsError, cached_weights, check_weights


@pytest.fixture
def tiny_adapter_run(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraConfig(r=8,
                                                                                            target_modules="all-linear"))
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # as if trained: a fresh adapter's B is zero and would change nothing
            torch.nn.init.normal_(parameter, std=0.5)
    (tmp_path / "run").mkdir()
    model.save_pretrained(str(tmp_path / "run" / "adapter"))
    return SimpleNamespace(id=1, status="finished", method="lora", run_dir=str(tmp_path / "run"))


def test_weightwatcher_gives_each_layer_an_alpha_beside_the_base(tiny_model_dir, tiny_adapter_run):
    pytest.importorskip("weightwatcher")
    assert cached_weights(tiny_adapter_run) is None
    weights = check_weights(tiny_adapter_run, str(tiny_model_dir))
    layers = weights["layers"]
    assert len(layers) >= 14 and weights["analysed"] == "merged"  # 7 linear layers in each of 2 decoder layers
    assert all(row["base_alpha"] > 0 and row["tuned_alpha"] > 0 for row in layers)
    assert any(abs(row["tuned_alpha"] - row["base_alpha"]) > 1e-3 for row in layers)  # the adapter changed them
    assert "says nothing about whether" in weights["meaning"] and "too few" in weights["adapter_only"]
    assert json.loads((Path(tiny_adapter_run.run_dir) / WEIGHTS_FILE).read_text()) == weights
    assert cached_weights(tiny_adapter_run) == weights


def test_a_run_without_an_adapter_is_refused_with_why(tiny_model_dir, tmp_path):
    run = SimpleNamespace(id=2, status="failed", method="lora", run_dir=str(tmp_path))
    with pytest.raises(WeightsError, match="no LoRA adapter"):
        check_weights(run, str(tiny_model_dir))
