"""`ftstudio bench generate`: the studio's generation path against a naive one, side by side in one run.

Both produce base and tuned answers to the same prompts (rendered with the model's chat template), greedy, with
the same maximum length:
- studio: the generation worker itself (`python -m ftstudio.evaluation.worker`): the base model loaded once, the
  adapter switched on and off by name, prompts batched with left padding, sorted by length.
- naive: two separately loaded models (the base, and a second copy with the adapter through PeftModel), each
  called one prompt at a time through a transformers `pipeline("text-generation")`.

Each path runs in a child process of its own, so its peak memory (the process's peak RSS above what it held
after importing torch and transformers) is its own. Throughput is answers per second of generation (loading is
reported apart); `same_base_outputs` is the share of base answers that both paths produced identically. The
studio is timed in its default precision (`auto`: fp32 on CPUs, bf16 on GPUs that have it) and in the other one;
memory is compared with the weights of one model as the naive path loads it (fp32).
"""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ftstudio.evaluation.worker import MemoryPeak, rss_mb  # the worker's own measures, light to import

TOPICS = ["dashboards nobody reads", "hiring a first data engineer", "late deliveries in winter", "pricing a B2B tool",
          "saying no to a big customer", "on-call rotations", "writing release notes", "a failed product launch"]
DETAILS = ["Our team is small and mostly remote.", "Keep it honest and concrete.", "Mention one number.",
           "The audience is operations leads.", "End with a question to the reader.", "No hashtags, please.",
           "We learned this the hard way last quarter.", "Use a short first line that makes people stop scrolling."]


def bench_prompts(count: int, seed: int = 0) -> list[str]:
    """Requests of varied length, like the inputs of a post writer's test split."""
    rng = random.Random(seed)
    return [f"Write a LinkedIn post about {rng.choice(TOPICS)}. " + " ".join(rng.sample(DETAILS, rng.randint(0, 5)))
            for _ in range(count)]


def random_adapter(model_path: str, folder: Path, seed: int = 0, scale: float = 0.05) -> Path:
    """A LoRA adapter with small random B matrices: the tuned model answers differently, as a trained one would."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_path),
                           LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", init_lora_weights=False,
                                      task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(scale)
    model.save_pretrained(folder)
    return folder




def naive_child(config: dict) -> dict:
    """Two models, one prompt at a time through a pipeline (run as `python -m ftstudio.bench.generate naive`)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    imported = rss_mb()
    with MemoryPeak() as sampler:
        began = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(config["model"])
        base = AutoModelForCausalLM.from_pretrained(config["model"], dtype=torch.float32)
        one_model = sum(p.numel() * p.element_size() for p in base.parameters()) / 2**20
        tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(config["model"], dtype=torch.float32),
                                          config["adapter"])
        loaded = time.perf_counter() - began
        outputs = {}
        generating = time.perf_counter()
        for system, model in (("base", base), ("tuned", tuned)):
            generator = pipeline("text-generation", model=model, tokenizer=tokenizer)
            outputs[system] = [generator(prompt, max_new_tokens=config["max_new_tokens"], do_sample=False,
                                         return_full_text=False, add_special_tokens=False)[0]["generated_text"].strip()
                               for prompt in config["prompts"]]
        seconds = time.perf_counter() - generating
    return {"outputs": outputs, "generate_seconds": seconds, "load_seconds": loaded, "import_rss_mb": imported,
            "one_model_weights_mb": one_model, "peak_rss_mb": sampler.peak_mb}


def _studio(model_path: str, adapter: Path, prompts: list[str], max_new_tokens: int, batch_size: int,
            work: Path, precision: str) -> dict:
    from ftstudio.evaluation.jobs import SubprocessBackend
    from ftstudio.training.folders import read_status

    requests = [{"cache_key": f"{system}:{index}", "system": system, "prompt": prompt}
                for system in ("base", "tuned") for index, prompt in enumerate(prompts)]
    outputs: dict[str, str] = {}
    started: list[Path] = []
    settings = {"max_new_tokens": max_new_tokens, "temperature": 0.0, "top_p": 1.0, "seed": 0,
                "batch_size": batch_size, "precision": precision}
    state = SubprocessBackend(work, backend="transformers", poll_seconds=0.2).generate(
        model_path, {"tuned": str(adapter)}, requests, settings,
        lambda rows: outputs.update({row["cache_key"]: row["output"] for row in rows}), on_started=started.append)
    status = read_status(started[0])
    return {"state": state, "status": status,
            "outputs": {s: [outputs[f"{s}:{i}"] for i in range(len(prompts))] for s in ("base", "tuned")}}


def bench_generate(model: str | None = None, prompts: int = 32, max_new_tokens: int = 64, batch_size: int = 0,
                   cache: str | None = None, seed: int = 0) -> dict:
    from transformers import AutoTokenizer

    from ftstudio.bench.train import embedded_model_path

    started = time.perf_counter()
    model_path = model or embedded_model_path(cache)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    rendered = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                              tokenize=False) for p in bench_prompts(prompts, seed)]
    from ftstudio.evaluation.generations import DecodingSettings

    default_precision = DecodingSettings().resolved().precision
    with tempfile.TemporaryDirectory(prefix="ftstudio-bench-generate-") as tmp:
        work = Path(tmp)
        adapter = random_adapter(model_path, work / "adapter", seed)
        # The default, and the other precision (bf16 timed on CPUs too, where the default is fp32).
        other = "bfloat16" if default_precision == "float32" else "float32"
        studio = {name: _studio(model_path, adapter, rendered, max_new_tokens, batch_size, work / f"jobs-{name}", name)
                  for name in (default_precision, other)}
        config = {"model": model_path, "adapter": str(adapter), "prompts": rendered, "max_new_tokens": max_new_tokens}
        (work / "naive.json").write_text(json.dumps(config))
        child = subprocess.run([sys.executable, "-m", "ftstudio.bench.generate", "naive", str(work / "naive.json")],
                               capture_output=True, text=True)
        if child.returncode != 0:
            raise RuntimeError(f"The naive generation failed: {child.stderr[-2000:]}")
        naive = json.loads(child.stdout.strip().splitlines()[-1])
    answers = 2 * prompts
    naive_rate = answers / naive["generate_seconds"]
    one_model = naive["one_model_weights_mb"]
    naive_memory = naive["peak_rss_mb"] - naive["import_rss_mb"]
    report = {
        "benchmark": "generate",
        "model": model or "embedded:SmolLM2-135M-Instruct",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "prompts": prompts, "answers": answers, "max_new_tokens": max_new_tokens,
        "batch_size": batch_size or "auto (16 on a CPU)",
        "studio_precision": default_precision,
        "naive_answers_per_second": round(naive_rate, 2),
        "naive_generate_seconds": round(naive["generate_seconds"], 2),
        "naive_load_seconds": round(naive["load_seconds"], 2),
        "one_model_weights_mb": round(one_model, 1),
        "naive_peak_memory_mb": round(naive_memory, 1),
        "naive_memory_vs_one_model": round(naive_memory / one_model, 2),
    }
    for precision, result in studio.items():
        status = result["status"]
        prefix = "studio" if precision == default_precision else f"studio_{precision}"
        rate = answers / status["generate_seconds"]
        memory = status["working_peak_rss_mb"] - status["import_rss_mb"]
        report.update({
            f"{prefix}_answers_per_second": round(rate, 2),
            f"{prefix}_speedup": round(rate / naive_rate, 2),
            f"{prefix}_generate_seconds": status["generate_seconds"],
            f"{prefix}_load_seconds": status.get("load_seconds"),
            f"{prefix}_peak_memory_mb": round(memory, 1),
            f"{prefix}_memory_vs_one_model": round(memory / one_model, 2),
            f"{prefix}_same_base_outputs": round(sum(a == b for a, b in zip(result["outputs"]["base"],
                                                                            naive["outputs"]["base"])) / prompts, 3),
            f"{prefix}_tuned_differs_from_base": round(sum(a != b for a, b in zip(result["outputs"]["base"],
                                                                                  result["outputs"]["tuned"])) / prompts, 3),
        })
    report["speedup"] = report["studio_speedup"]
    report["goal_5x_throughput"] = report["studio_speedup"] >= 5
    report["goal_memory_within_1_2x_one_model"] = report["studio_memory_vs_one_model"] <= 1.2
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def options_from_args(args) -> dict:
    return {"model": getattr(args, "model", None), "prompts": getattr(args, "prompts", None) or 32,
            "max_new_tokens": getattr(args, "max_new_tokens", None) or 64,
            "batch_size": getattr(args, "batch_size", None) or 0}


if __name__ == "__main__":
    from ftstudio.models import without_bitsandbytes

    without_bitsandbytes()  # as the studio's own children: no 4-bit model here
    if len(sys.argv) == 3 and sys.argv[1] == "naive":
        print(json.dumps(naive_child(json.loads(Path(sys.argv[2]).read_text()))))
    else:
        print("usage: python -m ftstudio.bench.generate naive CONFIG.json", file=sys.stderr)
        sys.exit(2)
