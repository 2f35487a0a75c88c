"""Hugging Face ZeroGPU support: `gpu` lends a GPU to a function for one call on a ZeroGPU Space, through the
`spaces` package's @spaces.GPU, and does nothing anywhere else (no package, or not on ZeroGPU).

ZeroGPU attaches the GPU only inside decorated calls of the app process and allows no torch.compile, so the
compiled paths switch off there (`on_zero_gpu`). Training and batch generation run in child processes, which
ZeroGPU does not reach: long runs belong on a Space with dedicated GPU hardware (spaces/README.md says which).
"""

from __future__ import annotations

import os
from typing import Callable


def on_zero_gpu() -> bool:
    """ZeroGPU Spaces set SPACES_ZERO_GPU in the environment."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


def gpu(duration: int = 60) -> Callable[[Callable], Callable]:
    """@gpu(duration=...) : @spaces.GPU on ZeroGPU, the function unchanged elsewhere."""
    def decorate(fn: Callable) -> Callable:
        if not on_zero_gpu():
            return fn
        try:
            import spaces
        except ImportError:
            return fn
        return spaces.GPU(duration=duration)(fn)
    return decorate
