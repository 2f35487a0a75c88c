"""`ftstudio bench train`: the studio's trainer against the classic tutorial recipe, side by side in one run.

Both train LoRA adapters on the same base model, the same synthetic posts (lengths
spread like real posts, about 20 to 500 tokens), with the same LoRA settings,
learning rate, schedule, batch size, seed, dtype and number of optimizer steps.

- project: the worker's own code path (`load_base`, `lora_config`, `sft_config`,
  `choose_precision`, TRL's SFTTrainer on prompt/completion pairs), once per
  batching mode (group_by_length, the default, and packing).
- tutorial: `transformers.Trainer` on a peft model, every example tokenized with
  `padding="max_length"` and `truncation=True`, labels = input_ids with padding
  masked to -100 (so it trains on prompt and completion, as the tutorials do),
  the default random sampler, no packing.

Throughput counts real tokens only (the attention mask's ones, or every token of
a padding-free packed row), from the second optimizer step to the last (the first
warms up allocators and thread pools). Validation loss is recomputed after
training by one function for every model: mean cross-entropy over completion
tokens only, padding excluded, on the same held-out examples. MFU counts 4·N
FLOPs per real token (a LoRA step: forward 2N, backward through frozen weights 2N,
the small adapter's own weight gradients left out) against a matmul peak measured
in the same process.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from ftstudio.child_process import peak_resident_mb
from ftstudio.bench.gemm import linear_shapes, matmul_peak, model_matmul_seconds
from ftstudio.bench.posts import rendered_pairs, synthetic_posts

# Sized for about 7-10 minutes on two CPU cores. group_by_length's batches come in random order (the longest first,
# untimed), so the 16 timed steps after it (half the set) see a spread of lengths, and last long enough (about a
# minute per studio variant) that a few seconds of a noisy neighbour move the figure by percents, not tens of them.
DEFAULTS = {
    "steps": 17,
    "train_examples": 128,
    "validation_examples": 32,
    "batch_size": 4,
    "max_length": 512,
    "seed": 0,
    "model": None,  # a local model folder; default: the embedded SmolLM2-135M (CPU) or a random 0.5B Qwen2 (GPU)
    "tokenizer": None,  # for the random GPU model; default: the embedded model's tokenizer
    "cache": None,  # where the embedded model is converted once
    # Each variant is a batching mode, "+compile" for compiled decoder layers (what long CPU runs use), "+fp32" to
    # force fp32 where the device would compute in bf16 (added by default on such CPUs, to show what bf16 buys).
    "variants": ("group_by_length", "group_by_length+compile"),
}
GPU_DEFAULTS = {"steps": 48, "batch_size": 16, "train_examples": 1024, "validation_examples": 64,
                "variants": ("group_by_length", "packing")}
LOSS_DEFINITION = "mean cross-entropy over completion tokens only (no prompt, no padding), same examples for every model"

def variant_settings(variant: str) -> dict:
    """TrainConfig fields of a bench variant name such as "packing" or "group_by_length+compile+fp32"."""
    from ftstudio.training.config import BATCHING

    batching, *extras = variant.split("+")
    if batching not in BATCHING or any(extra not in VARIANT_EXTRAS for extra in extras):
        raise ValueError(f"Unknown bench variant {variant!r}: use a batching mode ({', '.join(BATCHING)}), "
                         f"optionally followed by {', '.join('+' + e for e in VARIANT_EXTRAS)}.")
    settings = {"batching": batching, "compile": "on" if "compile" in extras else "off"}
    for extra in extras:
        settings.update(VARIANT_EXTRAS[extra])
    return settings


# What a "+name" suffix of a variant changes: compiled layers, or a compute dtype other than the device's own.
VARIANT_EXTRAS = {"compile": {"compile": "on"}, "fp32": {"compute_dtype": "float32"},
                  "bf16": {"compute_dtype": "bfloat16"}}


# --- measuring ---------------------------------------------------------------------------------------------------

class _TokenMeter:
    """Wraps a data collator and records the real and padded token count of every batch it builds."""

    def __init__(self, collator):
        self.collator, self.real, self.padded = collator, [], []

    def __call__(self, features):
        batch = self.collator(features)
        mask = batch.get("attention_mask")
        self.padded.append(int(batch["input_ids"].numel()))
        self.real.append(int(mask.sum()) if mask is not None else int(batch["input_ids"].numel()))
        return batch


def _step_clock():
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """The wall time at the end of every optimizer step (after the GPU has finished it)."""

        def __init__(self):
            self.began, self.ends = None, []

        def on_train_begin(self, args, state, control, **kwargs):
            self.began = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.ends.append(time.perf_counter())

    return StepClock()


def _cpu_steal() -> tuple[int, int] | None:
    """(steal, total) CPU ticks from /proc/stat: time a hypervisor gave our cores to other guests (Linux only)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


def _throughput(clock, meter, steps: int) -> dict:
    """Real tokens per second over steps 2..N: the first step pays for warm-up and is left out."""
    ends, real, padded = clock.ends[:steps], meter.real[:steps], meter.padded[:steps]
    if len(ends) < 2:
        raise RuntimeError("The benchmark needs at least 2 optimizer steps (one warm-up, one timed).")
    seconds = ends[-1] - ends[0]
    timed_real, timed_padded = sum(real[1:len(ends)]), sum(padded[1:len(ends)])
    return {"tokens_per_second": timed_real / seconds, "seconds_per_step": seconds / (len(ends) - 1),
            "first_step_seconds": ends[0] - clock.began if clock.began else None,
            "real_tokens_per_step": timed_real / (len(ends) - 1), "padding_fraction": 1 - timed_real / timed_padded,
            "timed_seconds": seconds, "steps_run": len(ends)}


def completion_loss(model, tokenizer, pairs: list[dict], max_length: int, batch_size: int = 8) -> float:
    """Mean cross-entropy over completion tokens only (prompt and padding excluded), the same for every model."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    examples = []
    for pair in pairs:
        prompt = tokenizer(pair["prompt"], add_special_tokens=False)["input_ids"]
        completion = tokenizer(pair["completion"], add_special_tokens=False)["input_ids"]
        examples.append(((prompt + completion)[:max_length], ([-100] * len(prompt) + completion)[:max_length]))
    examples.sort(key=lambda e: len(e[0]))  # little padding: it is masked anyway, but costs time
    total, count = 0.0, 0
    model.eval()
    # Eager even for a model with compiled layers: a few batches do not pay for compiling inference graphs.
    with torch.no_grad(), torch.compiler.set_stance("force_eager"):
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            width = max(len(ids) for ids, _ in chunk)
            ids = torch.tensor([i + [tokenizer.pad_token_id] * (width - len(i)) for i, _ in chunk], device=device)
            labels = torch.tensor([l + [-100] * (width - len(l)) for _, l in chunk], device=device)
            mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in chunk], device=device)
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            targets = labels[:, 1:]
            total += F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), targets.reshape(-1),
                                     ignore_index=-100, reduction="sum").item()
            count += int((targets != -100).sum())
    return total / count


def _parameters(model_path: str) -> dict:
    """Total parameters of the base model (tied embeddings counted once) and the same without the input embedding."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path))
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    return {"total": total, "non_embedding": total - embedding}


def _release():
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return peak_resident_mb()


# --- the two recipes ---------------------------------------------------------------------------------------------

def train_project(model_path: str, tokenizer, pairs: list[dict], config, precision, workdir: Path,
                  match_examples: bool = True):
    """The worker's code path (same helpers, same trainer), in process; returns (trained model, figures).

    A packed step holds several examples per row, so with `match_examples` packing runs only as many steps as
    it takes to see the same number of examples as the other recipes: its validation loss is then compared
    after the same data, and the bench stays short.
    """
    import torch
    from datasets import Dataset
    from transformers.trainer_utils import SaveStrategy

    from ftstudio.training.sft_trainer import StudioSFTTrainer, compile_decision, sft_config
    from ftstudio.training.harness import load_base, lora_config

    torch.manual_seed(config.seed)
    model = load_base(model_path, config, precision.dtype)
    args = sft_config(workdir, config, precision, has_validation=False)
    args.save_strategy = SaveStrategy.NO  # checkpoints would be timed too; the worker's are every 20 steps
    clock = _step_clock()
    trainer = StudioSFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(pairs),
                               processing_class=tokenizer, peft_config=lora_config(config), callbacks=[clock])
    examples_per_row = len(pairs) / len(trainer.train_dataset)
    steps = config.max_steps
    if match_examples and config.batching == "packing":
        steps = max(3, math.ceil(config.max_steps / examples_per_row))
        trainer.args.max_steps = steps
    if compile_decision(config, precision, steps)[0]:  # "on" here; refused clearly without a C++ compiler
        trainer.compile_model()
    meter = _TokenMeter(trainer.data_collator)
    trainer.data_collator = meter  # read when train() builds its dataloader
    trainer.train()
    figures = _throughput(clock, meter, steps)
    figures["examples_per_step"] = round(config.batch_size * examples_per_row, 2)
    return trainer.model, figures


def train_tutorial(model_path: str, tokenizer, pairs: list[dict], config, precision, workdir: Path):
    """The classic recipe: pad every example to max_length, labels = input_ids, HF Trainer, random order."""
    import torch
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments, default_data_collator

    from ftstudio.training.harness import load_base, lora_config

    encoded = tokenizer([p["prompt"] + p["completion"] for p in pairs], padding="max_length",
                        max_length=config.max_length, truncation=True)
    labels = [[t if m else -100 for t, m in zip(ids, mask)]
              for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"])]
    dataset = Dataset.from_dict({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                                 "labels": labels})
    torch.manual_seed(config.seed)
    model = get_peft_model(load_base(model_path, config, precision.dtype), lora_config(config))
    if precision.gradient_checkpointing:
        model.enable_input_require_grads()
    args = TrainingArguments(
        output_dir=str(workdir / "checkpoints"), max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate, lr_scheduler_type=config.scheduler, warmup_steps=config.warmup_ratio,
        logging_steps=1, save_strategy="no", seed=config.seed, data_seed=config.seed,
        bf16=precision.bf16, fp16=precision.fp16, gradient_checkpointing=precision.gradient_checkpointing,
        use_cpu=not precision.cuda, report_to=[], dataloader_num_workers=0, disable_tqdm=True)
    clock = _step_clock()
    meter = _TokenMeter(default_data_collator)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=meter, callbacks=[clock])
    trainer.train()
    figures = _throughput(clock, meter, config.max_steps)
    figures["examples_per_step"] = config.batch_size
    return trainer.model, figures


# --- models ------------------------------------------------------------------------------------------------------

def build_random_model(tokenizer, folder: Path, seed: int = 0) -> str:
    """A randomly initialised model of Qwen2.5-0.5B's shape (494M parameters), saved with `tokenizer`; no network."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=max(151936, len(tokenizer)), hidden_size=896, intermediate_size=4864,
                         num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                         max_position_embeddings=4096, rope_theta=1_000_000.0, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    return str(folder)


def _default_cache() -> Path:
    if os.environ.get("FTSTUDIO_HOME"):
        from ftstudio.config import Settings

        return Settings().model_cache
    return Path.home() / ".cache" / "ftstudio-bench"


def embedded_model_path(cache) -> str:
    from ftstudio.config import EMBEDDED_MODEL
    from ftstudio.models import materialize

    return materialize(EMBEDDED_MODEL, Path(cache) if cache else _default_cache())


# --- the benchmark -----------------------------------------------------------------------------------------------

def _log(message: str) -> None:
    print(f"[bench train] {message}", file=sys.stderr, flush=True)


def bench_train(**options) -> dict:
    """Time the studio's trainer against the tutorial recipe on the same model, data and settings; return figures."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftstudio.training.config import TrainConfig
    from ftstudio.training.device import choose_precision, cpp_compiler, native_bf16

    cuda = torch.cuda.is_available()
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown bench train options: {', '.join(sorted(unknown))}.")
    settings = {**DEFAULTS, **(GPU_DEFAULTS if cuda else {}), **{k: v for k, v in options.items() if v is not None}}
    if "variants" not in options and not cuda and not cpp_compiler():
        _log("no C++ compiler: the +compile variants are left out (apt install g++ to time them)")
        settings["variants"] = tuple(v for v in settings["variants"] if "+compile" not in v)
    if settings["steps"] < 2:
        raise ValueError("bench train needs --steps of at least 2 (the first step is a warm-up and is not timed).")
    started = time.perf_counter()
    phases = {}
    load_before = os.getloadavg()[0]

    def phase(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - since, 1)
        return now

    with tempfile.TemporaryDirectory(prefix="ftstudio-bench-train-") as tmp, contextlib.redirect_stdout(sys.stderr):
        tmp = Path(tmp)
        mark = time.perf_counter()
        model_path, model_name = settings["model"], settings["model"]
        if model_path is None:
            if cuda:
                tokenizer = AutoTokenizer.from_pretrained(settings["tokenizer"] or embedded_model_path(settings["cache"]))
                _log("building a random model of Qwen2.5-0.5B's shape")
                model_path = build_random_model(tokenizer, tmp / "random-0.5b", settings["seed"])
                model_name = "random weights, Qwen2.5-0.5B shape"
            else:
                model_path = embedded_model_path(settings["cache"])
                model_name = "embedded:SmolLM2-135M-Instruct"
        tokenizer = AutoTokenizer.from_pretrained(settings["tokenizer"] or model_path)
        if tokenizer.pad_token is None:  # as the worker does
            tokenizer.pad_token = tokenizer.eos_token
        parameters = _parameters(model_path)

        posts = synthetic_posts(tokenizer, settings["train_examples"] + settings["validation_examples"],
                                settings["seed"])
        pairs = rendered_pairs(posts, tokenizer)
        train_pairs, validation_pairs = pairs[:settings["train_examples"]], pairs[settings["train_examples"]:]
        lengths = sorted(len(ids) for ids in tokenizer([p["prompt"] + p["completion"] for p in train_pairs],
                                                        add_special_tokens=False)["input_ids"])
        base = TrainConfig(max_steps=settings["steps"], batch_size=settings["batch_size"],
                           max_length=settings["max_length"], eval_steps=0, seed=settings["seed"])
        precision = choose_precision(base)
        _log(precision.why)
        if "variants" not in options and not cuda and precision.dtype == torch.bfloat16:
            # Show what bf16 buys on this CPU: the compiled variant again, in fp32.
            settings["variants"] += tuple(f"{v}+fp32" for v in settings["variants"] if v.endswith("+compile"))
        variant_configs = {v: TrainConfig(**{**base.to_dict(), **variant_settings(v)}) for v in settings["variants"]}
        # A bf16 variant where bf16 is emulated would time the emulation (minutes per step on AVX2 CPUs): left out,
        # with the reason in the report.
        skipped = {}
        if any(c.compute_dtype == "bfloat16" for c in variant_configs.values()):
            native, evidence = native_bf16()
            if not native:
                skipped = {v: f"left out: {evidence}" for v, c in variant_configs.items()
                           if c.compute_dtype == "bfloat16"}
                for variant, reason in skipped.items():
                    _log(f"{variant} {reason}")
                    del variant_configs[variant]
                settings["variants"] = tuple(v for v in settings["variants"] if v not in skipped)
        variant_precisions = {v: choose_precision(c) for v, c in variant_configs.items()}
        device = "cuda" if cuda else "cpu"
        mark = phase("prepare", mark)

        # One peak per dtype the trainers compute in, each measured before and after training.
        dtypes = {p.dtype_name: p.dtype for p in [precision, *variant_precisions.values()]}
        _log(f"measuring the matmul peak on {precision.device} ({', '.join(dtypes)})")
        peaks = {name: [matmul_peak(device, dtype)] for name, dtype in dtypes.items()}
        mark = phase("gemm_peak", mark)

        base_model = AutoModelForCausalLM.from_pretrained(model_path, dtype=precision.dtype).to(device)
        base_val_loss = completion_loss(base_model, tokenizer, validation_pairs, base.max_length)
        shapes = linear_shapes(base_model)  # for the matmul ceiling, timed after training
        del base_model
        _release()
        mark = phase("base_val_loss", mark)

        results = {}
        for recipe, batching in [("tutorial", "padding")] + [("project", v) for v in settings["variants"]]:
            _log(f"training: {recipe} recipe ({batching})")
            config = variant_configs.get(batching) or TrainConfig(**{**base.to_dict(), **variant_settings(batching)})
            run_precision = variant_precisions.get(batching, precision)
            train = train_tutorial if recipe == "tutorial" else train_project
            steal_before = _cpu_steal()
            model, figures = train(model_path, tokenizer, train_pairs, config, run_precision,
                                   tmp / f"{recipe}-{batching}")
            figures["dtype"] = run_precision.dtype_name
            steal_after = _cpu_steal()
            if steal_before and steal_after and steal_after[1] > steal_before[1]:
                figures["cpu_steal_fraction"] = round((steal_after[0] - steal_before[0])
                                                      / (steal_after[1] - steal_before[1]), 3)
            figures["peak_memory_mb"] = _peak_memory_mb()
            mark = phase(f"train_{batching}", mark)
            figures["val_loss"] = completion_loss(model, tokenizer, validation_pairs, base.max_length)
            results["baseline" if recipe == "tutorial" else batching] = figures
            del model
            _release()
            mark = phase(f"val_loss_{batching}", mark)
        # The ceiling MFU at this batch size: the base model's own matmuls alone, at the studio's tokens per step.
        studio = [f for name, f in results.items() if name != "baseline"]
        ceiling_tokens = round(max(f["real_tokens_per_step"] for f in studio)) if studio else 0
        if ceiling_tokens:
            ceiling = model_matmul_seconds(shapes, ceiling_tokens, device, precision.dtype)
            mark = phase("matmul_ceiling", mark)
        for name, dtype in dtypes.items():
            peaks[name].append(matmul_peak(device, dtype, sizes=tuple(peaks[name][0]["by_size"])))
        phase("gemm_peak_again", mark)

    # The higher of the two measurements (before and after training): a conservative MFU on a noisy machine.
    peak_by_dtype = {name: max(p["flops"] for p in measured) for name, measured in peaks.items()}
    default_dtype = precision.dtype_name
    peak = peak_by_dtype[default_dtype]
    baseline = results["baseline"]

    def mfu(tokens_per_second: float, n: int, dtype: str = default_dtype) -> float:
        """Against the peak of the dtype that run computed in."""
        return float(f"{4 * n * tokens_per_second / peak_by_dtype[dtype]:.3g}")

    report = {
        "benchmark": "train",
        "device": precision.device,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": round(load_before, 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "model": model_name,
        "parameters": parameters["total"],
        "non_embedding_parameters": parameters["non_embedding"],
        "dtype": default_dtype,
        "dtype_why": precision.why,
        "steps": base.max_steps,
        "batch_size": base.batch_size,
        "max_length": base.max_length,
        "lora": {"r": base.r, "alpha": base.alpha, "dropout": base.dropout, "targets": base.target_modules,
                 "learning_rate": base.learning_rate, "scheduler": base.scheduler},
        "train_examples": len(train_pairs),
        "validation_examples": len(validation_pairs),
        "example_tokens": {"min": lengths[0], "median": lengths[len(lengths) // 2], "max": lengths[-1],
                           "mean": round(sum(lengths) / len(lengths), 1)},
        "baseline_recipe": "transformers.Trainer + peft, padding='max_length', labels = input_ids (prompt and "
                           "completion) with padding masked to -100, random sampler, no packing",
        "val_loss_definition": LOSS_DEFINITION,
        "base_val_loss": round(base_val_loss, 4),
        "gemm_peak_tflops": round(peak / 1e12, 4),
        "gemm_peak_dtype": default_dtype,
        "gemm_peaks_tflops_before_after": [round(p["flops"] / 1e12, 4) for p in peaks[default_dtype]],
        "gemm_tflops_by_size": {size: round(max(p["by_size"][size] for p in peaks[default_dtype]) / 1e12, 4)
                                for size in peaks[default_dtype][0]["by_size"]},
        "gemm_peak_tflops_by_dtype": {name: round(value / 1e12, 4) for name, value in peak_by_dtype.items()},
        "mfu_definition": "4·N FLOPs per real token over the measured matmul peak, N = all base parameters "
                          "(tied embeddings once); mfu_non_embedding leaves the input embedding out of N",
    }
    if ceiling_tokens:
        report.update({
            "matmul_ceiling_definition": "MFU if a step ran nothing but the base model's linear layers (forward, "
                                         "and backward for the input), each shape timed alone at the studio's "
                                         "real tokens per step, in the default dtype",
            "matmul_ceiling_tokens": ceiling_tokens,
            "matmul_ceiling_tflops": round(ceiling["flops"] / ceiling["seconds"] / 1e12, 4),
            "matmul_ceiling_mfu": float(f"{4 * parameters['total'] * ceiling_tokens / ceiling['seconds'] / peak:.3g}"),
        })
    for name, figures in results.items():
        report[f"{name}_tokens_per_second"] = round(figures["tokens_per_second"], 1)
        report[f"{name}_val_loss"] = round(figures["val_loss"], 4)
        report[f"{name}_mfu"] = mfu(figures["tokens_per_second"], parameters["total"], figures["dtype"])
        report[f"{name}_dtype"] = figures["dtype"]
        report[f"{name}_padding_fraction"] = round(figures["padding_fraction"], 3)
        report[f"{name}_seconds_per_step"] = round(figures["seconds_per_step"], 3)
        report[f"{name}_real_tokens_per_step"] = round(figures["real_tokens_per_step"], 1)
        report[f"{name}_examples_per_step"] = figures["examples_per_step"]
        report[f"{name}_steps"] = figures["steps_run"]
        if figures.get("first_step_seconds") is not None:  # includes compilation for +compile variants
            report[f"{name}_first_step_seconds"] = round(figures["first_step_seconds"], 1)
        if cuda:
            report[f"{name}_peak_memory_mb"] = figures["peak_memory_mb"]
        elif "cpu_steal_fraction" in figures:  # a busy host slows one recipe and not the other: read with care
            report[f"{name}_cpu_steal_fraction"] = figures["cpu_steal_fraction"]
        if name != "baseline":
            report[f"{name}_speedup"] = round(figures["tokens_per_second"] / baseline["tokens_per_second"], 2)
    from ftstudio.training.sft_trainer import COMPILE_AUTO_MIN_STEPS, compile_decision, resolve_batching

    # The headline is what a long run (the kind whose speed matters) uses here by default; shorter runs skip
    # compilation, and their speed is the eager variant's.
    default = resolve_batching(TrainConfig(), SimpleNamespace(cuda=cuda))
    compiled, compile_reason = compile_decision(TrainConfig(), precision, COMPILE_AUTO_MIN_STEPS)
    if compiled and f"{default}+compile" in results:
        default = f"{default}+compile"
    if default in results:
        figures = results[default]
        report.update({
            "project_variant": default,
            "project_variant_why": f"the default for a run of {COMPILE_AUTO_MIN_STEPS}+ steps here ({compile_reason})",
            "project_tokens_per_second": round(figures["tokens_per_second"], 1),
            "baseline_tokens_per_second": round(baseline["tokens_per_second"], 1),
            "speedup": round(figures["tokens_per_second"] / baseline["tokens_per_second"], 2),
            "project_val_loss": round(figures["val_loss"], 4),
            "baseline_val_loss": round(baseline["val_loss"], 4),
            "padding_fraction_baseline": round(baseline["padding_fraction"], 3),
            "mfu": mfu(figures["tokens_per_second"], parameters["total"]),
            "mfu_non_embedding": mfu(figures["tokens_per_second"], parameters["non_embedding"]),
            "goal_3x_at_equal_or_lower_loss": figures["tokens_per_second"] >= 3 * baseline["tokens_per_second"]
                                              and figures["val_loss"] <= baseline["val_loss"],
        })
        if cuda:
            report["peak_memory_mb"] = figures["peak_memory_mb"]
        else:  # the CPU goal; on a GPU, MFU is reported against the bf16 peak without a target
            report["goal_mfu_50pct"] = report["mfu"] >= 0.5
    if skipped:
        report["skipped_variants"] = skipped
    project = {name: f for name, f in results.items() if name != "baseline"}
    if project:
        report["fastest_variant"] = max(project, key=lambda name: project[name]["tokens_per_second"])
    if not cuda:  # the process's peak resident memory over the whole bench (all recipes)
        report["peak_rss_mb"] = _peak_memory_mb()
    report["phase_seconds"] = phases
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def options_from_args(args) -> dict:
    """bench_train options from CLI arguments; attributes the parser lacks are simply not passed."""
    names = [k for k in DEFAULTS if k != "variants"]
    options = {k: getattr(args, k, None) for k in names}
    if options["model"] is None and getattr(args, "base_model", None) and Path(args.base_model).is_dir():
        options["model"] = args.base_model
    if options["cache"] is None and getattr(args, "home", None):
        from ftstudio.config import Settings

        options["cache"] = str(Settings(home=Path(args.home)).model_cache)
    variants = getattr(args, "variants", None)
    if variants:
        options["variants"] = tuple(v.strip() for v in variants.split(",")) if isinstance(variants, str) else variants
    return {k: v for k, v in options.items() if v is not None}
