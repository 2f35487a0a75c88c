"""The training child: `python -m ftstudio.training.worker RUN_DIR` (or under `accelerate launch`).

It reads only its run folder and writes only to it, never the studio database:
run.yaml and data/ in; metrics.jsonl, status.json, checkpoints/ and adapter/ out.
Cancel is a CANCEL file the callback obeys at the next step (after saving a
checkpoint); every checkpoint gets a COMPLETE marker once fully written, so a
SIGKILL mid-save never leaves a checkpoint that resume would trust.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

from ftstudio.training.config import TrainConfig, read_yaml
from ftstudio.training.device import choose_precision
from ftstudio.training.folders import (CANCEL_FILE, COMPLETE_MARKER, latest_complete_checkpoint, write_status)


class StopRun(Exception):
    """A run that cannot go on for a reason the user can act on; its message is shown as it is."""


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _callbacks(run_dir: Path, started: float, divergence_factor: float = 0.0, learning_rate: float = 0.0):
    from transformers import TrainerCallback

    metrics_path = run_dir / "metrics.jsonl"

    class StudioCallback(TrainerCallback):
        """Appends every log to metrics.jsonl, writes a heartbeat, and obeys the CANCEL file."""

        def __init__(self):
            self.last_tokens = None
            self.last_time = time.time()
            self.first_loss = None
            self.diverged: str | None = None

        def _check_divergence(self, loss, step, control):
            """Stop a run whose loss blows up (too high a learning rate) instead of finishing it as if it were fine."""
            if not divergence_factor or loss is None:
                return
            if self.first_loss is None and math.isfinite(loss):
                self.first_loss = loss
                return
            if not math.isfinite(loss) or (self.first_loss and loss > divergence_factor * self.first_loss):
                shown = "not a number" if not math.isfinite(loss) else f"{loss:.3g}"
                self.diverged = (f"The loss diverged: it went from {self.first_loss:.3g} at the start to {shown} at "
                                 f"step {step}, so the run was stopped. Lower the learning rate (it was "
                                 f"{learning_rate:g}; LoRA usually trains at 1e-4 to 5e-4) and start a new run.")
                control.should_training_stop = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self._check_divergence(logs["loss"], state.global_step, control)
            if not _is_main_process() or not logs:
                return
            now = time.time()
            record = {"step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch,
                      "time": round(now - started, 2), **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
            tokens = logs.get("num_tokens")
            if tokens is not None and self.last_tokens is not None and now > self.last_time:
                record["tokens_per_second"] = round((tokens - self.last_tokens) / (now - self.last_time), 1)
            if tokens is not None:
                self.last_tokens, self.last_time = tokens, now
            record["memory_mb"] = _memory_mb()
            with metrics_path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")

        def on_step_end(self, args, state, control, **kwargs):
            if _is_main_process():
                write_status(run_dir, "running", step=state.global_step, max_steps=state.max_steps, pid=os.getpid())
            if (run_dir / CANCEL_FILE).exists():
                control.should_save = True
                control.should_training_stop = True

        def on_save(self, args, state, control, **kwargs):
            if _is_main_process():
                checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if checkpoint.is_dir():
                    (checkpoint / COMPLETE_MARKER).write_text(str(state.global_step))

    return [StudioCallback()]


def _memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def load_base(base_model: str, config: TrainConfig, dtype):
    """The base model for training: full precision for LoRA, 4-bit NF4 for QLoRA (placed on this rank's GPU)."""
    import torch

    from ftstudio.models import load_model

    quantized = config.method == "qlora"
    device_map = {"": int(os.environ.get("LOCAL_RANK", "0"))} if quantized and torch.cuda.is_available() else None
    return load_model(base_model, dtype=dtype, quantize_4bit=quantized, double_quant=config.double_quant,
                      device_map=device_map)


def lora_config(config: TrainConfig, task_type: str = "CAUSAL_LM", **extra):
    """PEFT's LoraConfig for a recipe's task type (extra: a classifier's modules_to_save)."""
    from peft import LoraConfig

    targets = config.target_modules if config.target_modules == "all-linear" else \
        [name.strip() for name in config.target_modules.split(",") if name.strip()]
    return LoraConfig(r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout, target_modules=targets,
                      task_type=task_type, **extra)


def resolve_batching(config: TrainConfig, precision) -> str:
    """Measured on `ftstudio bench train`: packing is 1.4-1.8x faster on an H100, group_by_length on a CPU
    (where packed rows make attention run over one long masked square)."""
    if config.batching != "auto":
        return config.batching
    return "packing" if precision.cuda else "group_by_length"


def planned_steps(config: TrainConfig, train_rows: int) -> int:
    """Optimizer steps the run will take (the trainer's own count, known before it starts)."""
    if config.max_steps > 0:
        return config.max_steps
    per_step = config.batch_size * config.grad_accumulation * int(os.environ.get("WORLD_SIZE", "1"))
    return math.ceil(math.ceil(train_rows / per_step) * config.epochs)


def trainer_arguments(run_dir: Path, config: TrainConfig, precision, has_validation: bool) -> dict:
    """The TrainingArguments every studio run shares, SFT and DPO alike: schedule, logging, checkpoints, and the
    number format and checkpointing decided from the measured device."""
    return dict(
        output_dir=str(run_dir / "checkpoints"),
        num_train_epochs=config.epochs if config.max_steps <= 0 else 1,
        max_steps=config.max_steps if config.max_steps > 0 else -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps in transformers 5
        logging_steps=1,
        eval_strategy="steps" if has_validation and config.eval_steps > 0 else "no",
        eval_steps=config.eval_steps or None,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        # Measured, not trusted: on a CPU without native bf16, autocast and checkpointing cost ~19x per step.
        # (TRL's configs turn bf16 and checkpointing on by default; the studio decides from the device.)
        bf16=precision.bf16,
        fp16=precision.fp16,
        gradient_checkpointing=precision.gradient_checkpointing,
        use_cpu=not precision.cuda,
        report_to=[],
        dataloader_num_workers=0,
        disable_tqdm=True,
        save_only_model=False,
    )


def sft_config(run_dir: Path, config: TrainConfig, precision, has_validation: bool):
    from trl import SFTConfig

    batching = resolve_batching(config, precision)
    return SFTConfig(
        **trainer_arguments(run_dir, config, precision, has_validation),
        max_length=config.max_length,
        completion_only_loss=config.completion_only,
        packing=batching == "packing",
        train_sampling_strategy="group_by_length" if batching == "group_by_length" else "random",
        # On CUDA every new sequence length costs an attention plan; few distinct lengths measured 2.5x faster.
        pad_to_multiple_of=64 if precision.cuda else None,
    )


def _dpo_trainer(run_dir: Path, config: TrainConfig, precision, model, tokenizer, data, callbacks):
    """DPO on a new LoRA adapter (reference: the adapter switched off), or on the adapter of the run it starts
    from (reference: TRL's frozen copy of that adapter)."""
    from peft import PeftModel

    from ftstudio.training.dpo_data import START_ADAPTER
    from ftstudio.training.dpo_trainer import StudioDPOTrainer, dpo_config

    start = run_dir / START_ADAPTER
    peft_config = lora_config(config)
    if start.exists():
        model = PeftModel.from_pretrained(model, str(start), is_trainable=True)
        peft_config = None
    return StudioDPOTrainer(
        model=model,
        args=dpo_config(run_dir, config, precision, "validation" in data),
        train_dataset=data["train"],
        eval_dataset=data.get("validation"),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
        max_prompt_length=config.max_prompt_length,
        max_completion_length=config.max_completion_length,
    )


def train(run_dir: Path) -> int:
    """Run (or resume) the run in `run_dir` with the recipe its run.yaml names; returns the process exit code."""
    from ftstudio.training.recipes import get_recipe

    run = read_yaml(run_dir / "run.yaml")
    recipe = get_recipe(run.get("recipe"), (run.get("config") or {}).get("objective", "sft"))
    return recipe.train(run_dir, run)


def finish_run(run_dir: Path, trainer, started: float, final_eval: dict | None = None) -> None:
    """Append the final evaluation to metrics.jsonl and mark the run finished (main process only)."""
    state = trainer.state
    if final_eval:
        with (run_dir / "metrics.jsonl").open("a") as handle:
            handle.write(json.dumps({"step": state.global_step, "max_steps": state.max_steps,
                                     "time": round(time.time() - started, 2), **final_eval}) + "\n")
    write_status(run_dir, "finished", step=state.global_step, max_steps=state.max_steps)


def stopped_early(run_dir: Path, trainer) -> bool:
    """Raise the divergence reason if the loss blew up; write `cancelled` and say so if the user cancelled."""
    diverged = next((c.diverged for c in trainer.callback_handler.callbacks if getattr(c, "diverged", None)), None)
    if diverged:
        raise StopRun(diverged)
    if (run_dir / CANCEL_FILE).exists():
        write_status(run_dir, "cancelled", step=trainer.state.global_step, max_steps=trainer.state.max_steps)
        return True
    return False


def record_setup(run_dir: Path, precision, compiled: bool, reason: str) -> None:
    """How this process computes, for the progress line (no step: it must not move it)."""
    if _is_main_process():
        with (run_dir / "metrics.jsonl").open("a") as handle:
            handle.write(json.dumps({"dtype": precision.dtype_name, "compiled": compiled,
                                     "precision_why": precision.why, "compile_why": reason}) + "\n")


def train_causal(run_dir: Path, run: dict) -> int:
    """The causal LM recipes: SFT (TRL's SFTTrainer, the studio's lean loss) and DPO."""
    import torch
    from datasets import load_dataset
    from peft import prepare_model_for_kbit_training
    from transformers import AutoTokenizer
    from ftstudio.training.trainer import StudioSFTTrainer, compile_decision

    config = TrainConfig.from_dict(run["config"])
    started = time.time()
    precision = choose_precision(config)
    print(f"[ftstudio] {precision.why}", file=sys.stderr, flush=True)
    torch.manual_seed(config.seed)
    write_status(run_dir, "running", step=0, pid=os.getpid())

    tokenizer = AutoTokenizer.from_pretrained(run["base_model_path"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_base(run["base_model_path"], config, precision.dtype)
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=precision.gradient_checkpointing)
    files = {"train": str(run_dir / "data" / "train.jsonl")}
    if (run_dir / "data" / "validation.jsonl").exists():
        files["validation"] = str(run_dir / "data" / "validation.jsonl")
    data = load_dataset("json", data_files=files)
    callbacks = _callbacks(run_dir, started, config.divergence_factor, config.learning_rate)
    if config.is_dpo:
        trainer = _dpo_trainer(run_dir, config, precision, model, tokenizer, data, callbacks)
    else:
        trainer = StudioSFTTrainer(
            model=model,
            args=sft_config(run_dir, config, precision, "validation" in data),
            train_dataset=data["train"],
            eval_dataset=data.get("validation"),
            processing_class=tokenizer,
            peft_config=lora_config(config),
            callbacks=callbacks,
        )
    if len(trainer.train_dataset) == 0:
        raise StopRun(f"No training example is left after tokenizing with max length {config.sequence_length}: "
                      "the prompts are longer than that. Raise max length or shorten the template.")
    compile_layers, reason = compile_decision(config, precision, planned_steps(config, len(trainer.train_dataset)))
    if config.is_dpo and compile_layers:
        compile_layers, reason = False, "compile: off for DPO runs (not measured yet)"
    print(f"[ftstudio] {reason}", file=sys.stderr, flush=True)
    if compile_layers:
        trainer.compile_model()
    record_setup(run_dir, precision, compile_layers, reason)
    resume = latest_complete_checkpoint(run_dir)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if stopped_early(run_dir, trainer):
        return 0
    final_eval = trainer.evaluate() if "validation" in data else {}
    if _is_main_process():
        if config.is_dpo:
            trainer.save_adapter(run_dir / "adapter")
        else:
            trainer.model.save_pretrained(str(run_dir / "adapter"))
        tokenizer.save_pretrained(str(run_dir / "adapter"))
        finish_run(run_dir, trainer, started, final_eval)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ftstudio.training.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0]).resolve()
    from ftstudio.training.device import yield_to_the_app

    yield_to_the_app()
    try:
        return train(run_dir)
    except StopRun as error:
        print(f"[ftstudio] {error}", file=sys.stderr, flush=True)
        write_status(run_dir, "failed", error=str(error))
        return 1
    except Exception as error:  # the app shows this; the traceback goes to worker.log
        traceback.print_exc()
        write_status(run_dir, "failed", error=f"{type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
