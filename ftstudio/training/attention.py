"""Attention for bf16 training on CPUs: PyTorch's SDPA, computed in fp32.

PyTorch's CPU flash-attention kernel is slower in bf16 than in fp32, above all backward: measured
on CPUs with and without AMX, alone and inside `ftstudio bench train`'s training steps, at the same
validation loss (figures in docs/benchmarks.md).
The matmuls around attention stay in bf16. transformers' own SDPA integration does the rest
(grouped-query heads, causal flag, masks), registered under a name of our own through its
AttentionInterface.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

FP32_SDPA = "ftstudio_sdpa_fp32"


def sdpa_in_fp32(module, query, key, value, attention_mask, **kwargs):
    """transformers' SDPA attention with query, key, value (and a float mask) in fp32, the output in their dtype.

    Autocast is switched off around it: bf16 runs train under CPU autocast (see trainer.py), which would
    otherwise cast the fp32 inputs straight back to bf16 for SDPA.
    """
    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    with torch.autocast("cpu", enabled=False):
        output, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask,
                                                 **kwargs)
    return output.to(query.dtype), weights


AttentionInterface.register(FP32_SDPA, sdpa_in_fp32)


def cpu_compute_dtype(causal_lm):
    """The dtype a CPU model's weights compute in (None on a GPU): that of its first parameter, the embedding.

    Under QLoRA that is fp32 (PEFT's preparation casts the embedding up), so 4-bit runs keep plain SDPA and no
    autocast. Their attention already runs in fp32 (the fp32 embedding carries fp32 hidden states), and autocast
    made them slower when forced on (measured on bf16 QLoRA, eager).
    """
    parameter = next(causal_lm.parameters())
    return None if parameter.is_cuda else parameter.dtype


def use_fp32_attention_on_cpu(causal_lm) -> bool:
    """Switch a CPU model that computes in bf16 or fp16 and uses SDPA to SDPA in fp32; whether it was switched."""
    config = causal_lm.config
    if cpu_compute_dtype(causal_lm) not in (torch.bfloat16, torch.float16):
        return False
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    causal_lm.set_attn_implementation(FP32_SDPA)
    return config._attn_implementation == FP32_SDPA
