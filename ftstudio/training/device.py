"""Pick dtype and memory features by looking at the device, never by habit."""

from __future__ import annotations

import shutil
from dataclasses import dataclass


@dataclass
class Precision:
    dtype: object
    bf16: bool
    fp16: bool
    gradient_checkpointing: bool
    cuda: bool
    device: str


def native_bf16() -> bool:
    """bf16 only where the device computes it natively (Ampere and later GPUs); CPUs here emulate it slowly."""
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def choose_precision(config) -> Precision:
    import torch

    cuda = torch.cuda.is_available()
    wanted = config.compute_dtype
    if wanted == "auto":
        wanted = "bfloat16" if native_bf16() else "float32"
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[wanted]
    # Gradient checkpointing trades compute for memory; only worth it where memory is short (GPUs under 24 GiB).
    checkpointing = cuda and torch.cuda.get_device_properties(0).total_memory < 24 * 2**30
    return Precision(dtype=dtype, bf16=cuda and dtype == torch.bfloat16, fp16=cuda and dtype == torch.float16,
                     gradient_checkpointing=checkpointing, cuda=cuda,
                     device=torch.cuda.get_device_name(0) if cuda else "cpu")


def cpp_compiler() -> str | None:
    """The C++ compiler torch.compile would build CPU kernels with, if there is one."""
    return shutil.which("c++") or shutil.which("g++")
