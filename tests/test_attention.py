"""bf16 CPU training computes attention in fp32: same results as an fp32 model, masks and gradients included."""

import contextlib
import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ftstudio.training.attention import FP32_SDPA, use_fp32_attention_on_cpu


def _tiny(dtype):
    config = LlamaConfig(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)  # grouped-query heads, as SmolLM2's
    torch.manual_seed(0)
    return LlamaForCausalLM(config).to(dtype)


@pytest.mark.parametrize("autocast", [False, True], ids=["plain", "under-autocast"])
@pytest.mark.parametrize("padded", [False, True])
def test_fp32_attention_matches_an_fp32_model_as_closely_as_bf16_sdpa_does(padded, autocast):
    # bf16 CPU runs train under autocast (trainer.py), which must not cast attention's fp32 inputs back to bf16.
    context = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    model = _tiny(torch.bfloat16)
    exact_model = copy.deepcopy(model).float()
    ids = torch.randint(0, 100, (2, 12), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 12, dtype=torch.long)
    if padded:
        mask[1, 8:] = 0  # a float mask reaches the attention function in bf16: it must be cast with the inputs
    real = mask.bool()
    exact = exact_model(input_ids=ids, attention_mask=mask).logits[real]
    with context:
        bf16_sdpa = model(input_ids=ids, attention_mask=mask).logits.float()[real]

    assert use_fp32_attention_on_cpu(model) and model.config._attn_implementation == FP32_SDPA
    with context:
        fp32_sdpa = model(input_ids=ids, attention_mask=mask).logits.float()[real]
    bf16_error = (bf16_sdpa - exact).abs().max()
    assert (fp32_sdpa - exact).abs().max() <= 2 * bf16_error + 1e-3
    assert not torch.equal(fp32_sdpa, bf16_sdpa), "the switch must change which kernel runs"


def test_gradients_flow_through_fp32_attention_in_the_models_dtype():
    model = _tiny(torch.bfloat16)
    use_fp32_attention_on_cpu(model)
    ids = torch.randint(0, 100, (2, 10), generator=torch.Generator().manual_seed(2))
    model(input_ids=ids, labels=ids).loss.backward()
    gradient = model.model.layers[0].self_attn.q_proj.weight.grad
    assert gradient is not None and gradient.dtype == torch.bfloat16 and torch.isfinite(gradient).all()


def test_fp32_models_keep_sdpa():
    model = _tiny(torch.float32)
    assert not use_fp32_attention_on_cpu(model) and model.config._attn_implementation == "sdpa"
