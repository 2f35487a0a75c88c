"""`ftstudio doctor [--gpu] [--json]`: what this machine offers the studio, and with --gpu the GPU acceptance check
(bench/gpu_check.py), one JSON object with figures and goals."""

from __future__ import annotations

import importlib.util

from ftstudio.cli.common import add_json_option, print_result, settings_from

OPTIONAL = ("vllm", "deepspeed", "sky", "bitsandbytes", "flash_attn")


def machine_report() -> dict:
    """Devices and optional engines, found without loading any model."""
    import torch

    cuda = torch.cuda.is_available()
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "gpus": torch.cuda.device_count() if cuda else 0,
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
            "installed": {name: importlib.util.find_spec(name) is not None for name in OPTIONAL}}


def cmd_doctor(args) -> int:
    if args.gpu:
        from ftstudio.bench.gpu_check import run_gpu_check

        report = run_gpu_check(settings_from(args).model_cache)
    else:
        report = machine_report()
    print_result(report, args.json, "\n".join(f"{k}: {v}" for k, v in report.items()))
    return 0


def register(commands) -> None:
    doctor = commands.add_parser("doctor", help="Say what this machine offers the studio; --gpu runs the GPU "
                                 "acceptance check.",
                                 description="Without options: torch, CUDA, GPUs and optional engines (vLLM, "
                                 "DeepSpeed, SkyPilot). --gpu: LoRA and QLoRA runs of 30 steps (tokens/s, MFU, peak "
                                 "memory), 64 answers base and tuned with transformers and vLLM (answers/s), and "
                                 "2-process DDP when two GPUs exist, against the goals in DEVELOPERS.md (about 10 "
                                 "minutes on one modern GPU).")
    doctor.add_argument("--gpu", action="store_true", help="Run the GPU acceptance check (needs a CUDA GPU).")
    add_json_option(doctor)
    doctor.set_defaults(func=cmd_doctor)
