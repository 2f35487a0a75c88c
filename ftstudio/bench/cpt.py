"""`ftstudio bench cpt`: the studio's continued pre-training (texts packed end to end into full rows, TRL's
SFTTrainer with wrapped packing, recipes/cpt.py) against the tutorial recipe (each post tokenized on its own and
padded to max length, transformers' Trainer with DataCollatorForLanguageModeling), side by side.

Both train a LoRA adapter of the same rank on the same generated posts, from the same base model, with the same
batch size, max length, learning rate, number format and number of optimizer steps, each in a child process.

- tokens per second: the posts' own tokens (padding not counted) trained on per second, from the end of the first
  optimizer step (which warms up) to the end of the last;
- validation perplexity: each trained adapter scored the same way on the same held-out posts (each post on its own,
  no padding): exp of the mean loss per token.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULTS = {"posts": 2000, "steps": 8, "batch_size": 4, "max_length": 512, "validation": 40, "seed": 0,
            "learning_rate": 2e-4}


def _log(message: str) -> None:
    print(f"[bench cpt] {message}", file=sys.stderr, flush=True)


def _times_callback(times: list):
    from transformers import TrainerCallback

    class StepTimes(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter())

    return StepTimes()


def _counting_collator(collator, tokens: list):
    """Wrap a collator to count the real (attention-masked) tokens of every batch it makes."""
    def collate(features):
        batch = collator(features)
        mask = batch.get("attention_mask")
        labels = batch["labels"]
        tokens.append(int(mask.sum()) if mask is not None else int((labels != -100).sum()))
        return batch
    return collate


def _config(options: dict):
    from ftstudio.training.config import TrainConfig

    return TrainConfig(objective="cpt", max_steps=options["steps"], batch_size=options["batch_size"],
                       max_length=options["max_length"], learning_rate=options["learning_rate"], eval_steps=0,
                       save_steps=10_000, seed=options["seed"], divergence_factor=0, compile="off")


def _perplexity(model, tokenizer, texts: list[str], max_length: int) -> float:
    """exp(mean loss per token) over held-out texts, each on its own (no padding, no packing)."""
    import torch

    model.eval()
    total, count = 0.0, 0
    device = next(model.parameters()).device
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text + tokenizer.eos_token, truncation=True, max_length=max_length,
                            return_tensors="pt")["input_ids"].to(device)
            if ids.shape[1] < 2:
                continue
            loss = model(input_ids=ids, labels=ids).loss
            total += float(loss) * (ids.shape[1] - 1)
            count += ids.shape[1] - 1
    return math.exp(total / count)


def measure(kind: str, model_path: str, train: list[str], validation: list[str], options: dict) -> dict:
    """Train one variant for the set number of steps; its tokens per second and validation perplexity."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from ftstudio.training.device import choose_precision
    from ftstudio.training.harness import load_base, lora_config, trainer_arguments
    from ftstudio.training.recipes.cpt import cpt_config

    config = _config(options)
    precision = choose_precision(config)
    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    times: list[float] = []
    tokens: list[int] = []
    model = load_base(model_path, config, precision.dtype)
    with tempfile.TemporaryDirectory() as out:
        if kind == "studio":
            from peft import get_peft_model

            from ftstudio.training.sft_trainer import StudioSFTTrainer

            args = cpt_config(Path(out), config, precision, has_validation=False)
            args.save_strategy = "no"
            trainer = StudioSFTTrainer(model=get_peft_model(model, lora_config(config)), args=args,
                                       train_dataset=Dataset.from_list([{"text": t} for t in train]),
                                       processing_class=tokenizer, callbacks=[_times_callback(times)])
        else:
            from peft import get_peft_model

            # The tutorial: every post tokenized on its own and padded to max length; the collator masks the padding.
            encoded = Dataset.from_list([{"text": t + tokenizer.eos_token} for t in train]).map(
                lambda row: tokenizer(row["text"], truncation=True, max_length=config.max_length,
                                      padding="max_length"), remove_columns=["text"])
            arguments = trainer_arguments(Path(out), config, precision, has_validation=False)
            arguments["save_strategy"] = "no"
            trainer = Trainer(model=get_peft_model(model, lora_config(config)), args=TrainingArguments(**arguments),
                              train_dataset=encoded, callbacks=[_times_callback(times)],
                              data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))
        trainer.data_collator = _counting_collator(trainer.data_collator, tokens)
        with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs; stdout is the bench's JSON
            trainer.train()
    seconds = times[-1] - times[0]
    timed_tokens = sum(tokens[1:len(times)])  # the batches of the timed steps (one batch per step)
    return {"tokens_per_second": round(timed_tokens / seconds, 1), "seconds_per_step": round(seconds / (len(times) - 1), 3),
            "real_tokens_per_step": round(timed_tokens / (len(times) - 1), 1),
            "validation_perplexity": round(_perplexity(trainer.model, tokenizer, validation, config.max_length), 3),
            "dtype": precision.dtype_name}


def bench_cpt(model: str | None = None, cache: str | None = None, **overrides) -> dict:
    from transformers import AutoTokenizer

    from ftstudio.bench.posts import synthetic_posts
    from ftstudio.bench.train import embedded_model_path

    options = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    model_path = model or embedded_model_path(cache)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    posts = [post["output"] for post in synthetic_posts(tokenizer, options["posts"], options["seed"])]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        data_path = Path(folder) / "posts.json"
        data_path.write_text(json.dumps({"validation": posts[:options["validation"]],
                                         "train": posts[options["validation"]:]}))
        for kind in ("studio", "tutorial"):
            # Each side in a process of its own: in one process the second side ran its steps measurably faster
            # (kernels and allocator already warm), whichever it was.
            _log(f"{kind}: {options['steps']} steps of {options['batch_size']} rows of up to "
                 f"{options['max_length']} tokens")
            child = subprocess.run([sys.executable, "-m", "ftstudio.bench.cpt", kind, str(model_path), str(data_path),
                                    json.dumps(options)], capture_output=True, text=True, timeout=7200)
            if child.returncode != 0:
                raise RuntimeError(f"bench cpt {kind} failed:\n{child.stderr[-3000:]}")
            results[kind] = json.loads(child.stdout.strip().splitlines()[-1])
    studio, tutorial = results["studio"], results["tutorial"]
    return {"benchmark": "cpt", "model": Path(str(model_path)).name, **options, "studio": studio,
            "tutorial": tutorial,
            "throughput_ratio": round(studio["tokens_per_second"] / tutorial["tokens_per_second"], 2),
            "goal": "throughput ratio >= 3"}


if __name__ == "__main__":
    from ftstudio.models import without_bitsandbytes

    without_bitsandbytes()  # as the studio's own children: no 4-bit model here
    kind, model_path, data_path, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    data = json.loads(Path(data_path).read_text())
    print(json.dumps(measure(kind, model_path, data["train"], data["validation"], options)))
