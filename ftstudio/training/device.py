"""Pick dtype and memory features by looking at the device, never by habit."""

from __future__ import annotations

import functools
import os
import shutil
import time
from dataclasses import dataclass


@dataclass
class Precision:
    dtype: object
    bf16: bool
    fp16: bool
    gradient_checkpointing: bool
    cuda: bool
    device: str
    why: str = ""  # how the dtype was chosen, for the run's log

    @property
    def dtype_name(self) -> str:
        """The dtype as the run folder and the bench write it: "bfloat16", "float32"."""
        return str(self.dtype).replace("torch.", "")


# A CPU counts as computing bf16 natively when its bf16 matmul is at least this much faster than fp32. CPUs with
# AVX512_BF16 or AMX measured twice as fast or more; CPUs that only emulate bf16 (AVX2, early AVX-512) run it
# slower than fp32, so the threshold separates them with room (figures in docs/benchmarks.md).
CPU_BF16_MIN_SPEEDUP = 1.5


@functools.cache
def cpu_bf16_matmul_speedup() -> float:
    """How many times faster a 1024³ bf16 matmul runs than an fp32 one on this CPU (measured once per process).

    Measured rather than read off CPU flags: what matters is whether the math library has kernels for the flags,
    and a flag check would not see a library that lacks them. Takes about 0.1 s where bf16 is native. A 256³
    product is timed first: where bf16 is emulated it is slower than fp32 already there, and that ratio is
    returned, since one emulated 1024³ product takes seconds on such CPUs (docs/benchmarks.md).
    """
    import torch

    def best_seconds(dtype, size: int) -> float:
        a = torch.randn(size, size).to(dtype)
        b = torch.randn(size, size).to(dtype)
        torch.matmul(a, b)  # warm-up: thread pool, kernel selection
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            torch.matmul(a, b)
            best = min(best, time.perf_counter() - started)
        return best

    bf16_small = best_seconds(torch.bfloat16, 256)
    small = best_seconds(torch.float32, 256) / bf16_small
    if small < 1 or bf16_small * 64 > 1.0:  # slower than fp32, or a second or more per 1024³ product: emulated
        return small
    return best_seconds(torch.float32, 1024) / best_seconds(torch.bfloat16, 1024)


def native_bf16() -> tuple[bool, str]:
    """Whether the device computes bf16 natively, and the evidence (Ampere+ GPUs; CPUs by a measured matmul)."""
    import torch

    if torch.cuda.is_available():
        native = torch.cuda.is_bf16_supported(including_emulation=False)
        return native, f"bf16 {'native' if native else 'not native'} on {torch.cuda.get_device_name(0)}"
    speedup = cpu_bf16_matmul_speedup()
    native = speedup >= CPU_BF16_MIN_SPEEDUP
    return native, (f"bf16 matmul measured {speedup:.1f}x the speed of fp32 on this CPU "
                    f"({'native' if native else f'emulated: under {CPU_BF16_MIN_SPEEDUP}x'})")


def choose_precision(config) -> Precision:
    import torch

    cuda = torch.cuda.is_available()
    wanted = config.compute_dtype
    if wanted == "auto":
        native, evidence = native_bf16()
        wanted = "bfloat16" if native else "float32"
        why = f"compute_dtype: auto, {wanted} ({evidence})"
    else:
        why = f"compute_dtype: {wanted}"
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[wanted]
    # Gradient checkpointing trades compute for memory; only worth it where memory is short (GPUs under 24 GiB).
    checkpointing = cuda and torch.cuda.get_device_properties(0).total_memory < 24 * 2**30
    # On CPUs the base weights are loaded in bf16 (autocast over fp32 base weights would recast them at every use,
    # measured slower) and the LoRA adapter stays fp32 (PEFT upcasts
    # it); the trainer computes the adapter's products under bf16 autocast (StudioSFTTrainer).
    return Precision(dtype=dtype, bf16=cuda and dtype == torch.bfloat16, fp16=cuda and dtype == torch.float16,
                     gradient_checkpointing=checkpointing, cuda=cuda,
                     device=torch.cuda.get_device_name(0) if cuda else "cpu", why=why)


def cpp_compiler() -> str | None:
    """The C++ compiler torch.compile would build CPU kernels with, if there is one."""
    return shutil.which("c++") or shutil.which("g++")


def yield_to_the_app() -> None:
    """Run this worker (training, generation) at a lower CPU priority than the app, so people labeling and voting
    keep quick answers while it works; it still gets every cycle they leave. FTSTUDIO_WORKER_NICE (default 10,
    0 to keep the app's priority) sets how much lower.

    On Linux the worker also takes the SCHED_IDLE policy (FTSTUDIO_WORKER_SCHED=normal keeps the usual one): a
    nice thread still holds a core until the scheduler's next tick when the app wakes up, and a label or vote
    wakes the app's threads many times; an idle-policy thread gives the core up at once, and runs at full speed
    whenever nobody else wants it."""
    niceness = int(os.environ.get("FTSTUDIO_WORKER_NICE", "10"))
    if niceness > 0 and hasattr(os, "nice"):
        try:
            os.nice(niceness)
        except OSError:  # not permitted here: run as we are
            pass
    if niceness > 0 and os.environ.get("FTSTUDIO_WORKER_SCHED", "idle") == "idle" and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass
