"""Data-parallel and sharded training through accelerate: the accelerate config a run folder launches with, the
checks a machine must pass first, and what sharding divides in the memory estimate.

accelerate and torch.distributed do the work (process launch, gloo or NCCL, DDP, FSDP, DeepSpeed ZeRO); this module
only writes accelerate's config from the run's settings (processes, sharding), so a run folder names how it trains.
No ML library is imported at module level: the app imports it.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import yaml

ACCELERATE_FILE = "accelerate.yaml"
# What each sharding shards across the processes, per device (weights, gradients, optimizer states), after
# DeepSpeed's ZeRO stages and FSDP's FULL_SHARD.
SHARDINGS = {
    "none": "data parallel (DDP): every process holds the whole model; each trains on its share of the batch",
    "fsdp": "FSDP (full shard): weights, gradients and optimizer states split across the GPUs",
    "deepspeed-zero2": "DeepSpeed ZeRO-2: gradients and optimizer states split across the GPUs",
    "deepspeed-zero3": "DeepSpeed ZeRO-3: weights, gradients and optimizer states split across the GPUs",
}
SHARDED_PARTS = {"none": (), "fsdp": ("weights", "adapter+optimizer"), "deepspeed-zero2": ("optimizer",),
                 "deepspeed-zero3": ("weights", "adapter+optimizer")}


class LaunchError(ValueError):
    """A multi-process run this machine cannot start, with what to do."""


def global_batch(config) -> int:
    """Examples per optimizer step over every process: per-device batch x accumulation x processes."""
    return config.batch_size * config.grad_accumulation * max(1, config.processes)


def is_distributed(config) -> bool:
    """Does this run launch more than one process, or shard (which goes through accelerate's launcher)?"""
    return config.processes > 1 or config.sharding != "none"


def check_launch(config, cuda_devices: int | None = None) -> None:
    """Refuse a multi-process run this machine cannot start, saying why and what to do (`cuda_devices`: this
    machine's GPUs, counted when not given)."""
    if not is_distributed(config):
        return
    if cuda_devices is None:
        import torch

        cuda_devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if config.sharding != "none" and cuda_devices == 0:
        raise LaunchError(f"Sharding ({config.sharding}) splits a model across GPUs and this machine has none: use "
                          "--sharding none (data parallel over gloo works on the CPU), or train on a GPU machine.")
    if config.sharding.startswith("deepspeed") and importlib.util.find_spec("deepspeed") is None:
        raise LaunchError(f"--sharding {config.sharding} needs DeepSpeed: pip install deepspeed (on a machine with "
                          "the CUDA toolkit), or use --sharding fsdp, which needs nothing more.")
    if cuda_devices and config.processes > cuda_devices:
        raise LaunchError(f"This run asks for {config.processes} processes, one per GPU, and this machine has "
                          f"{cuda_devices} GPU(s): lower processes to {cuda_devices}.")


def free_port() -> int:
    """A free TCP port for the processes' rendezvous (two runs or test sessions must not share 29500)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accelerate_config(config, port: int) -> dict:
    """accelerate's config (the YAML `accelerate config` writes) for this run's processes and sharding.

    On a CPU, MULTI_GPU with no GPU makes accelerate start the processes with torchrun and join them over gloo
    (its MULTI_CPU type wants mpirun)."""
    base = {"compute_environment": "LOCAL_MACHINE", "num_machines": 1, "machine_rank": 0,
            "num_processes": max(1, config.processes), "main_process_ip": "127.0.0.1", "main_process_port": port,
            "mixed_precision": "no", "dynamo_config": {"dynamo_backend": "NO"}, "use_cpu": False,
            "rdzv_backend": "static", "same_network": True, "gpu_ids": "all"}
    if config.sharding == "fsdp":
        # PEFT's documented FSDP settings for LoRA (peft/docs: accelerate/fsdp).
        return {**base, "distributed_type": "FSDP", "fsdp_config": {
            "fsdp_version": 1, "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_backward_prefetch": "BACKWARD_PRE", "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_forward_prefetch": False, "fsdp_offload_params": False, "fsdp_sharding_strategy": "FULL_SHARD",
            "fsdp_state_dict_type": "SHARDED_STATE_DICT", "fsdp_sync_module_states": True,
            "fsdp_use_orig_params": False}}
    if config.sharding.startswith("deepspeed"):
        stage = 3 if config.sharding.endswith("3") else 2
        return {**base, "distributed_type": "DEEPSPEED", "deepspeed_config": {
            "zero_stage": stage, "offload_optimizer_device": "none", "offload_param_device": "none",
            "gradient_accumulation_steps": config.grad_accumulation, "zero3_init_flag": stage == 3,
            "zero3_save_16bit_model": stage == 3}}
    return {**base, "distributed_type": "MULTI_GPU"}


def write_accelerate_config(run_dir: Path, config, port: int | None = None) -> Path:
    """Write the run folder's accelerate.yaml (a fresh port each launch) and return its path."""
    path = Path(run_dir) / ACCELERATE_FILE
    path.write_text(yaml.safe_dump(accelerate_config(config, port or free_port()), sort_keys=False))
    return path


def shard_memory(parts: dict[str, int], config, cuda: bool) -> tuple[dict[str, int], int]:
    """The estimate's parts per device under this run's sharding, and how many copies share one memory.

    Sharding divides weights, gradients and optimizer states by the processes (per SHARDED_PARTS; ZeRO-2 the
    gradients and Adam moments, 12 of the 16 bytes per trained parameter); activations stay per process. On a CPU
    every process shares the one RAM, so the whole is the per-process need times the processes."""
    processes = max(1, config.processes)
    divided = dict(parts)
    sharded = SHARDED_PARTS.get(config.sharding, ())
    for name in sharded:
        if name in divided:
            divided[name] = int(divided[name] / processes)
    if "optimizer" in sharded:
        trained = divided.get("adapter+optimizer", 0)
        divided["adapter+optimizer"] = int(trained * 4 / 16 + trained * 12 / 16 / processes)
    return divided, (1 if cuda else processes)


def agreed(flag: bool) -> bool:
    """`flag` if any process raised it (a max over torch.distributed); the flag itself in a single process."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return flag
    import torch

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
