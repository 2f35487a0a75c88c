"""The device's measured matrix-multiply peak: the yardstick for model FLOPs utilisation (MFU).

A datasheet peak is a promise; what `torch.matmul` reaches on square matrices in
this process, on this machine, under today's load, is the ceiling the trainer
can hope for, so MFU is reported against that.
"""

from __future__ import annotations

import time


def _best_seconds(run, repeats: int, cuda: bool, inner: int = 1) -> float:
    """Best wall time of `run()` over `repeats` timed passes, after one untimed warm-up pass."""
    import torch

    run()  # warm-up: thread pools, kernel selection, oneDNN primitive creation, cuBLAS heuristics, clocks
    best = float("inf")
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(inner):
            run()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - started) / inner)
    return best


def fitted_size(device: str, dtype, target_seconds: float = 0.2) -> int:
    """The square size whose product takes about `target_seconds` at this device's measured speed in `dtype`.

    A fixed size does not fit every device: where bf16 is emulated (AVX2 CPUs) a 3072³ bf16 product takes minutes,
    where a GPU finishes it in a millisecond. A small product is timed first, then the size it suggests, once more.
    """
    import torch

    cuda = device.startswith("cuda")
    smallest, largest = (1024, 16384) if cuda else (256, 3072)
    size = smallest
    for _ in range(2):
        a = torch.ones(size, size, device=device, dtype=dtype)
        seconds = _best_seconds(lambda: torch.matmul(a, a), 2, cuda, inner=10 if cuda else 1)
        del a
        flops_per_second = 2 * size**3 / seconds
        fitted = int((target_seconds * flops_per_second / 2) ** (1 / 3)) // 128 * 128
        size = max(smallest, min(largest, fitted))
    return size


def matmul_peak(device: str = "cpu", dtype=None, sizes: tuple[int, ...] | None = None, repeats: int = 5) -> dict:
    """Best FLOP/s of `torch.matmul` on square matrices of each size (best of `repeats`, after one warm-up).

    Without `sizes`, two are fitted to the device (`fitted_size`, and half of it), so the measurement takes a second
    or two in any dtype on any device; pass the returned `by_size` keys to measure the same sizes again.
    """
    import torch

    dtype = dtype or torch.float32
    if sizes is None:
        fitted = fitted_size(device, dtype)
        sizes = (fitted // 2 // 128 * 128, fitted)
    generator = torch.Generator(device="cpu").manual_seed(0)
    cuda = device.startswith("cuda")
    by_size = {}
    for size in sizes:
        a = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
        b = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
        out = torch.empty(size, size, device=device, dtype=dtype)
        # One GPU product lasts about a millisecond: time ten back to back.
        best = _best_seconds(lambda: torch.matmul(a, b, out=out), repeats, cuda, inner=10 if cuda else 1)
        by_size[size] = 2 * size**3 / best
        del a, b, out
    return {"flops": max(by_size.values()), "by_size": by_size, "dtype": str(dtype).replace("torch.", "")}


def linear_shapes(model) -> dict[tuple[int, int], int]:
    """How many linear layers of each weight shape (out, in) a model has, LM head included."""
    import torch

    shapes: dict[tuple[int, int], int] = {}
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            shape = tuple(module.weight.shape)
            shapes[shape] = shapes.get(shape, 0) + 1
    return shapes


def model_matmul_seconds(shapes: dict[tuple[int, int], int], tokens: int, device: str = "cpu", dtype=None,
                         repeats: int = 3) -> dict:
    """Seconds a model's own matmuls take for one training step of `tokens` tokens, each at its best speed.

    For every linear layer shape (from `linear_shapes`) it times the forward product and the backward product for
    the input's gradient (LoRA freezes the weights, so there is no weight gradient): 4·N FLOPs per token, the
    count MFU uses. Each distinct shape is timed warm, best of `repeats`, and multiplied by how many layers share
    it. What MFU a trainer could reach if it ran nothing but these products, each as fast as `torch.matmul`
    allows: its ceiling at this batch size, on this machine.
    """
    import torch
    import torch.nn.functional as F

    dtype = dtype or torch.float32
    generator = torch.Generator(device="cpu").manual_seed(0)
    total, flops = 0.0, 0
    with torch.no_grad():
        for (out_features, in_features), count in shapes.items():
            w = torch.randn(out_features, in_features, generator=generator).to(device=device, dtype=dtype)
            x = torch.randn(tokens, in_features, generator=generator).to(device=device, dtype=dtype)
            grad = torch.randn(tokens, out_features, generator=generator).to(device=device, dtype=dtype)
            best = _best_seconds(lambda: (F.linear(x, w), torch.matmul(grad, w)), repeats,
                                 device.startswith("cuda"))
            total += best * count
            flops += 4 * tokens * in_features * out_features * count
            del w, x, grad
    return {"seconds": total, "flops": flops, "tokens": tokens, "shapes": len(shapes)}
