"""`ftstudio bench dpo`: the studio's DPO against TRL's DPOTrainer as its documentation shows, side by side.

Both train on the same preference pairs (synthetic posts: the chosen answer is the post asked for, the rejected one
a post on another topic), from the same base model, with the same batch size, learning rate, beta, lengths, number
format and gradient checkpointing, for the same number of steps, each in its own child process so that each peak
memory is its own.

- studio: the worker's code path (`load_base`, `lora_config`, `dpo_config`, StudioDPOTrainer): a LoRA adapter,
  whose reference model is the adapter switched off.
- trl: `DPOTrainer(model=model, args=DPOConfig(...), train_dataset=..., processing_class=tokenizer)` as TRL's
  quickstart writes it: the whole model trains, and TRL loads a second copy of it as the reference model.

Throughput is pairs per second from the end of the first optimizer step (which warms up) to the end of the last.
Peak memory is the child's peak resident set on a CPU, or its peak CUDA allocation on a GPU.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ftstudio.child_process import peak_resident_mb

DEFAULTS = {"steps": 9, "batch_size": 4, "pairs": 64, "max_prompt_length": 64, "max_completion_length": 128,
            "seed": 0}


def _log(message: str) -> None:
    print(f"[bench dpo] {message}", file=sys.stderr, flush=True)


def preference_pairs(tokenizer, count: int, seed: int = 0) -> list[dict]:
    """Prompt (rendered with the chat template), the post asked for, and a post on another topic."""
    from ftstudio.bench.posts import rendered_pairs, synthetic_posts

    posts = rendered_pairs(synthetic_posts(tokenizer, count, seed, high=160), tokenizer)
    rng = random.Random(seed)
    pairs = []
    for index, post in enumerate(posts):
        other = posts[(index + rng.randint(1, count - 1)) % count]
        pairs.append({"prompt": post["prompt"], "chosen": post["completion"], "rejected": other["completion"]})
    return pairs


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return peak_resident_mb()


def _timing_callback(times: list):
    from transformers import TrainerCallback

    class StepTimes(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter())

    return StepTimes()


def _config(options: dict):
    from ftstudio.training.config import TrainConfig

    return TrainConfig(objective="dpo", max_steps=options["steps"], batch_size=options["batch_size"],
                       max_prompt_length=options["max_prompt_length"],
                       max_completion_length=options["max_completion_length"], eval_steps=0,
                       save_steps=10_000, seed=options["seed"], divergence_factor=0)


def measure(kind: str, model_path: str, data_path: str, options: dict) -> dict:
    """One variant, in this process: train `steps` steps and report its throughput and peak memory."""
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftstudio.training.device import choose_precision
    from ftstudio.training.dpo_trainer import StudioDPOTrainer, dpo_config
    from ftstudio.training.harness import load_base, lora_config

    config = _config(options)
    precision = choose_precision(config)
    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    data = load_dataset("json", data_files={"train": data_path})["train"]
    times: list[float] = []
    with tempfile.TemporaryDirectory() as out:
        args = dpo_config(Path(out), config, precision, has_validation=False)
        args.save_strategy = "no"
        if kind == "studio":
            trainer = StudioDPOTrainer(model=load_base(model_path, config, precision.dtype), args=args,
                                       train_dataset=data, processing_class=tokenizer, peft_config=lora_config(config),
                                       callbacks=[_timing_callback(times)],
                                       max_prompt_length=config.max_prompt_length,
                                       max_completion_length=config.max_completion_length)
        else:
            from trl import DPOTrainer

            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=precision.dtype)
            trainer = DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                                 callbacks=[_timing_callback(times)])
        loaded = _peak_memory_mb()  # weights, the reference copy (TRL) and the libraries, before any step
        trainer.train()
    seconds = times[-1] - times[0]
    timed_steps = len(times) - 1
    return {"pairs_per_second": round(timed_steps * config.batch_size / seconds, 3),
            "seconds_per_step": round(seconds / timed_steps, 3), "timed_steps": timed_steps,
            "peak_memory_mb": round(_peak_memory_mb(), 1), "peak_before_training_mb": round(loaded, 1), "dtype": precision.dtype_name,
            "gradient_checkpointing": precision.gradient_checkpointing,
            "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
            "reference": "the adapter switched off" if kind == "studio" else "a second copy of the model"}


def bench_dpo(model: str | None = None, cache: str | None = None, **overrides) -> dict:
    from transformers import AutoTokenizer

    from ftstudio.bench.train import embedded_model_path

    options = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    model_path = model or embedded_model_path(cache)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        data_path = Path(folder) / "pairs.jsonl"
        data_path.write_text("\n".join(json.dumps(pair) for pair in
                                       preference_pairs(tokenizer, options["pairs"], options["seed"])))
        for kind in ("studio", "trl"):
            _log(f"{kind}: {options['steps']} steps of {options['batch_size']} pairs")
            child = subprocess.run([sys.executable, "-m", "ftstudio.bench.dpo", kind, str(model_path), str(data_path),
                                    json.dumps(options)], capture_output=True, text=True, timeout=3600)
            if child.returncode != 0:
                raise RuntimeError(f"bench dpo {kind} failed:\n{child.stderr[-3000:]}")
            results[kind] = json.loads(child.stdout.strip().splitlines()[-1])
    studio, trl = results["studio"], results["trl"]
    return {"benchmark": "dpo", "model": Path(str(model_path)).name, **options, "studio": studio, "trl": trl,
            "throughput_ratio": round(studio["pairs_per_second"] / trl["pairs_per_second"], 2),
            "memory_ratio": round(studio["peak_memory_mb"] / trl["peak_memory_mb"], 2),
            "goal": "throughput ratio >= 1 at memory ratio <= 0.6"}


if __name__ == "__main__":
    from ftstudio.models import without_bitsandbytes

    without_bitsandbytes()  # as the studio's own children: no 4-bit model here
    kind, model_path, data_path, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    print(json.dumps(measure(kind, model_path, data_path, options)))
