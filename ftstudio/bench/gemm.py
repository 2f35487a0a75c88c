"""The device's measured matrix-multiply peak: the yardstick for model FLOPs utilisation (MFU).

A datasheet peak is a promise; what `torch.matmul` reaches on square matrices in
this process, on this machine, under today's load, is the ceiling the trainer
can hope for, so MFU is reported against that.
"""

from __future__ import annotations

import time


def matmul_peak(device: str = "cpu", dtype=None, sizes: tuple[int, ...] | None = None, repeats: int = 5) -> dict:
    """Best FLOP/s of `torch.matmul` on square matrices of each size (best of `repeats`, after one warm-up)."""
    import torch

    dtype = dtype or torch.float32
    if sizes is None:
        sizes = (8192,) if device.startswith("cuda") else (1024, 2048, 3072)
    generator = torch.Generator(device="cpu").manual_seed(0)
    cuda = device.startswith("cuda")
    inner = 10 if cuda else 1  # one GPU product lasts about a millisecond: time ten back to back
    by_size = {}
    for size in sizes:
        a = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
        b = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
        out = torch.empty(size, size, device=device, dtype=dtype)
        torch.matmul(a, b, out=out)  # warm-up: thread pools, cuBLAS heuristics, clocks
        best = float("inf")
        for _ in range(repeats):
            if cuda:
                torch.cuda.synchronize()
            started = time.perf_counter()
            for _ in range(inner):
                torch.matmul(a, b, out=out)
            if cuda:
                torch.cuda.synchronize()
            best = min(best, (time.perf_counter() - started) / inner)
        by_size[size] = 2 * size**3 / best
        del a, b, out
    return {"flops": max(by_size.values()), "by_size": by_size, "dtype": str(dtype).replace("torch.", "")}
