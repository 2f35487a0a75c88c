"""The GPU acceptance check: `ftstudio doctor --gpu --json` (or `make gpu-check`), one command that says, with
figures, whether the studio works on the GPU in front of you.

It trains the way the studio trains (a prepared run folder, the training child) and generates the way the review
does (the generation child), so what it measures is what users get:
- a LoRA and a QLoRA (4-bit NF4, double quantization) run of 30 steps on a 0.5B model from the Hub (offline: one of
  its shape with random weights, as `ftstudio bench train` builds): tokens/s, MFU against the matmul peak measured here in bf16 (bench/gemm.py), peak GPU
  memory, and QLoRA's peak as a share of LoRA's;
- 64 answers from the base model and 64 from the tuned one, with transformers and with vLLM (when installed):
  answers/s;
- a 2-process data-parallel LoRA run when two GPUs exist.
Goals (DEVELOPERS.md): bf16 LoRA MFU >= 30% on a 0.5B+ model, QLoRA peak <= 40% of LoRA's, vLLM >= 5x transformers.
It never runs in `make test`; without a CUDA GPU it refuses at once, saying so.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HUB_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
EMBEDDED = "embedded:SmolLM2-135M-Instruct"
STEPS = 30
ANSWERS = 64
GOAL_MFU, GOAL_QLORA_SHARE, GOAL_VLLM_SPEEDUP = 0.30, 0.40, 5.0
TOPICS = ("a delayed pallet", "the quarterly forecast", "a refund request", "the new dashboard", "a late invoice",
          "the warehouse move", "a supplier audit", "the holiday rota")


class GpuCheckError(ValueError):
    """The check cannot run here, with what to do."""


def require_gpu() -> str:
    """The GPU's name; GpuCheckError on a machine without a CUDA GPU (the check measures nothing on a CPU)."""
    import torch

    if not torch.cuda.is_available():
        build = "a CPU-only build of torch" if torch.version.cuda is None else "no CUDA device visible"
        raise GpuCheckError(f"The GPU check needs a CUDA GPU and this machine has none ({build}): run "
                            "`ftstudio doctor --gpu` on a GPU machine with a CUDA build of torch.")
    return torch.cuda.get_device_name(0)


def pick_model(cache: Path, workdir: Path) -> tuple[str, str]:
    """(name, path) of the Hub model; offline, a model of its shape with random weights (speed and memory do not
    depend on the weights) and the embedded model's tokenizer, built here."""
    from transformers import AutoTokenizer

    from ftstudio.bench.train import build_random_model
    from ftstudio.models import materialize

    try:
        from huggingface_hub import snapshot_download

        return HUB_MODEL, snapshot_download(HUB_MODEL)
    except Exception as error:  # offline, or no access: the same shape, random weights
        print(f"[gpu-check] {HUB_MODEL} unavailable ({type(error).__name__}): random weights of its shape, "
              f"{EMBEDDED}'s tokenizer", file=sys.stderr)
        tokenizer = AutoTokenizer.from_pretrained(materialize(EMBEDDED, cache))
        return f"random weights, {HUB_MODEL} shape", build_random_model(tokenizer, workdir / "random-0.5b")


def synthetic_rows(count: int) -> list[dict]:
    """Prompt/completion pairs long enough that packed batches are full."""
    rows = []
    for n in range(count):
        topic = TOPICS[n % len(TOPICS)]
        body = " ".join(f"Point {k} about {topic}: the team checked item {n * 7 + k} and wrote it down."
                        for k in range(12))
        rows.append({"prompt": f"Write a short update about {topic} (case {n}).", "completion": body})
    return rows


def run_training(workdir: Path, model: str, model_path: str, method: str, processes: int = 1) -> dict:
    """Train 30 steps in the studio's training child; tokens/s, peak memory and the adapter's folder."""
    from ftstudio.run_folder import RunFolder
    from ftstudio.training.config import TrainConfig
    from ftstudio.training.distributed import write_accelerate_config
    from ftstudio.training.manager import worker_command
    from ftstudio.training.prepare import write_run_folder

    config = TrainConfig(method=method, max_steps=STEPS, batch_size=8, max_length=512, eval_steps=0,
                         save_steps=STEPS, processes=processes, learning_rate=2e-4)
    run_dir = workdir / f"{method}-{processes}"
    rows = synthetic_rows(600)
    write_run_folder(run_dir, config, model, model_path, {"name": "gpu-check", "content_hash": "", "counts": {},
                                                          "template": None},
                     {"train": rows}, {"name": "gpu-check", "task_type": "generation"}, {"recipe": "causal_sft"})
    accelerate_file = str(write_accelerate_config(run_dir, config)) if processes > 1 else None
    began = time.perf_counter()
    with (run_dir / "worker.log").open("w") as log:
        code = subprocess.run(worker_command(run_dir, accelerate_file), stdout=log, stderr=subprocess.STDOUT).returncode
    folder = RunFolder(run_dir)
    if code or folder.read_status().get("state") != "finished":
        raise GpuCheckError(f"The {method} run failed: {(run_dir / 'worker.log').read_text()[-2000:]}")
    metrics, _ = folder.read_metrics(0)
    rates = [m["tokens_per_second"] for m in metrics if "tokens_per_second" in m]
    rates = rates[3:] or rates  # after the warm-up steps
    return {"tokens_per_second": round(statistics.median(rates), 1) if rates else None,
            "peak_gpu_memory_mb": max((m.get("memory_mb", 0) for m in metrics), default=None),
            "seconds": round(time.perf_counter() - began, 1), "adapter": str(run_dir / "adapter"),
            "dtype": next((m["dtype"] for m in metrics if "dtype" in m), None)}


def model_parameters(model_path: str) -> int:
    """Parameters of the model's linear layers (the ones MFU counts), from its config, without loading weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path))
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def run_generation(workdir: Path, model_path: str, adapter: str, backend: str) -> dict:
    """64 answers from the base model and 64 from the tuned one, in the studio's generation child: answers/s."""
    from ftstudio.evaluation.jobs import SubprocessBackend
    from ftstudio.training.folders import read_status

    prompts = [f"Write a short update about {TOPICS[n % len(TOPICS)]} (case {n})." for n in range(ANSWERS)]
    requests = [{"cache_key": f"{system}:{n}", "system": system, "prompt": prompt}
                for system in ("base", "tuned") for n, prompt in enumerate(prompts)]
    settings = {"max_new_tokens": 128, "temperature": 0.0, "top_p": 1.0, "seed": 0, "batch_size": 0,
                "precision": "bfloat16"}
    started: list[Path] = []
    SubprocessBackend(workdir / f"jobs-{backend}", backend=backend, poll_seconds=0.2).generate(
        model_path, {"tuned": adapter}, requests, settings, lambda rows: None, on_started=started.append)
    status = read_status(started[0])
    seconds = status["generate_seconds"]
    return {"answers": len(requests), "answers_per_second": round(len(requests) / seconds, 2),
            "generate_seconds": seconds, "load_seconds": status.get("load_seconds")}


def run_gpu_check(cache: Path) -> dict:
    """Every measurement above, as one JSON-ready dict with the goals met or not."""
    import torch

    from ftstudio.bench.gemm import matmul_peak

    device = require_gpu()
    began = time.perf_counter()
    report: dict = {"check": "gpu", "device": device, "gpus": torch.cuda.device_count(),
                    "torch": torch.__version__, "cuda": torch.version.cuda}
    peak = matmul_peak("cuda", torch.bfloat16)["flops"]
    report["bf16_matmul_peak_tflops"] = round(peak / 1e12, 1)
    with tempfile.TemporaryDirectory(prefix="ftstudio-gpu-check-") as tmp:
        work = Path(tmp)
        model, model_path = pick_model(cache, work)
        parameters = model_parameters(model_path)
        report.update(model=model, linear_parameters=parameters)
        lora = run_training(work, model, model_path, "lora")
        qlora = run_training(work, model, model_path, "qlora")
        for name, result in (("lora", lora), ("qlora", qlora)):
            rate = result["tokens_per_second"] or 0
            # 4 FLOPs per parameter and token: the forward product and the input's gradient (LoRA's frozen weights
            # get no weight gradient), as `ftstudio bench train` counts them.
            report[name] = {**{k: v for k, v in result.items() if k != "adapter"},
                            "mfu": round(4 * parameters * rate / peak, 3)}
        report["qlora_memory_share_of_lora"] = round(qlora["peak_gpu_memory_mb"] / lora["peak_gpu_memory_mb"], 3)
        report["generation"] = {"transformers": run_generation(work, model_path, lora["adapter"], "transformers")}
        if importlib.util.find_spec("vllm") is not None:
            report["generation"]["vllm"] = run_generation(work, model_path, lora["adapter"], "vllm")
            report["generation"]["vllm_speedup"] = round(report["generation"]["vllm"]["answers_per_second"] /
                                                         report["generation"]["transformers"]["answers_per_second"], 2)
        else:
            report["generation"]["vllm"] = "not installed (pip install vllm)"
        if torch.cuda.device_count() >= 2:
            ddp = run_training(work, model, model_path, "lora", processes=2)
            report["ddp_2_processes"] = {k: v for k, v in ddp.items() if k != "adapter"}
    large = parameters >= 4e8
    report["goals"] = {
        "lora_mfu_at_least_30_percent": (report["lora"]["mfu"] >= GOAL_MFU) if large else "n/a (model under 0.5B)",
        "qlora_peak_at_most_40_percent_of_lora": report["qlora_memory_share_of_lora"] <= GOAL_QLORA_SHARE,
        "vllm_at_least_5x_transformers": report["generation"].get("vllm_speedup", 0) >= GOAL_VLLM_SPEEDUP
        if "vllm_speedup" in report["generation"] else "n/a (vllm not installed)",
    }
    report["seconds"] = round(time.perf_counter() - began, 1)
    return report


if __name__ == "__main__":
    print(json.dumps(run_gpu_check(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("ftstudio-data/models"))))
