"""What every trained recipe shares (TRL's and transformers' Trainers alike): the arguments, the callback that
writes metrics and obeys cancel, the base model and LoRA config, and the run-and-finish sequence each recipe
ends with. Recipes build their own trainer between `begin_run` and `train_to_the_end`.

A run reads only its run folder and writes only to it, never the studio database.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ftstudio.run_folder import COMPLETE_MARKER, RunFolder, RunSpec
from ftstudio.training.config import TrainConfig
from ftstudio.training.device import Precision, choose_precision
from ftstudio.training.distributed import agreed
from ftstudio.training.tracking import run_tracking


class StopRun(Exception):
    """A run that cannot go on for a reason the user can act on; its message is shown as it is."""


def is_main_process() -> bool:
    """Rank 0 under accelerate (or the only process): the one that writes metrics, status and the adapter."""
    return int(os.environ.get("RANK", "0")) == 0


def say(message: str) -> None:
    """A line for worker.log, which the app shows when a run fails."""
    print(f"[ftstudio] {message}", file=sys.stderr, flush=True)


def studio_callbacks(run_dir: Path, started: float, divergence_factor: float = 0.0, learning_rate: float = 0.0):
    """The callback every run trains with: metrics.jsonl, the status heartbeat, CANCEL, checkpoint markers and
    the divergence stop."""
    from transformers import TrainerCallback

    folder = RunFolder(run_dir)

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
            if not is_main_process() or not logs:
                return
            now = time.time()
            record = {"step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch,
                      "time": round(now - started, 2), **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
            tokens = logs.get("num_tokens")
            if tokens is not None and self.last_tokens is not None and now > self.last_time:
                record["tokens_per_second"] = round((tokens - self.last_tokens) / (now - self.last_time), 1)
            if tokens is not None:
                self.last_tokens, self.last_time = tokens, now
            record["memory_mb"] = memory_mb()
            folder.append_metrics(record)

        def on_step_end(self, args, state, control, **kwargs):
            if is_main_process():
                folder.write_status("running", step=state.global_step, max_steps=state.max_steps, pid=os.getpid())
            # Every process stops at the same step (agreed over torch.distributed), or DDP's next all-reduce hangs.
            if agreed(folder.cancel_requested()):
                control.should_save = True
                control.should_training_stop = True

        def on_save(self, args, state, control, **kwargs):
            if is_main_process():
                checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if checkpoint.is_dir():
                    (checkpoint / COMPLETE_MARKER).write_text(str(state.global_step))

    return [StudioCallback()]


def memory_mb() -> float:
    """This process's peak GPU memory, or its resident memory on a CPU, in MiB."""
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


def start_from_adapter(model, folder: RunFolder, peft_config):
    """For a run that starts from an earlier run (--from-run, any causal objective): the base with that run's
    adapter, trainable, its LoRA settings kept, and no new LoRA config; otherwise the base and the new config."""
    if not folder.start_adapter_dir.exists():
        return model, peft_config
    from peft import PeftModel

    say(f"starting from the adapter in {folder.start_adapter_dir.name}/")
    return PeftModel.from_pretrained(model, str(folder.start_adapter_dir), is_trainable=True), None


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
        output_dir=str(RunFolder(run_dir).checkpoints_dir),
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
        # Decided from the measured device, not by habit: on a CPU without native bf16, autocast and checkpointing
        # cost many times over per step (docs/benchmarks.md). TRL's configs turn both on by default.
        bf16=precision.bf16,
        fp16=precision.fp16,
        gradient_checkpointing=precision.gradient_checkpointing,
        use_cpu=not precision.cuda,
        **run_tracking(run_dir, config),  # report_to: none unless the run or the studio chose trackers
        dataloader_num_workers=0,
        disable_tqdm=True,
        save_only_model=False,
    )


@dataclass
class RunContext:
    """What a recipe knows once its run has begun."""

    folder: RunFolder
    spec: RunSpec
    config: TrainConfig
    precision: Precision
    started: float

    def callbacks(self) -> list:
        return studio_callbacks(self.folder.path, self.started, self.config.divergence_factor,
                                self.config.learning_rate)


def begin_run(folder: RunFolder) -> RunContext:
    """Read the run spec, choose the number format from the device, seed, and say the run is running."""
    import torch

    spec = folder.spec
    config = TrainConfig.from_dict(spec.config)
    started = time.time()
    precision = choose_precision(config)
    say(precision.why)
    torch.manual_seed(config.seed)
    if is_main_process():
        folder.write_status("running", step=0, pid=os.getpid())
    return RunContext(folder, spec, config, precision, started)


def record_setup(folder: RunFolder, precision, compiled: bool, reason: str) -> None:
    """How this process computes, for the progress line (no step: it must not move it)."""
    if is_main_process():
        folder.append_metrics({"dtype": precision.dtype_name, "compiled": compiled,
                               "precision_why": precision.why, "compile_why": reason})


def stopped_early(folder: RunFolder, trainer) -> bool:
    """Raise the divergence reason if the loss blew up; write `cancelled` and say so if the user cancelled."""
    diverged = next((c.diverged for c in trainer.callback_handler.callbacks if getattr(c, "diverged", None)), None)
    if diverged:
        raise StopRun(diverged)
    if agreed(folder.cancel_requested()):  # one answer for every process: the others evaluate together or not
        if is_main_process():
            folder.write_status("cancelled", step=trainer.state.global_step, max_steps=trainer.state.max_steps)
        return True
    return False


def finish_run(context: RunContext, trainer, final_eval: dict | None = None) -> None:
    """Append the final evaluation to metrics.jsonl and mark the run finished (main process only)."""
    state = trainer.state
    if final_eval:
        context.folder.append_metrics({"step": state.global_step, "max_steps": state.max_steps,
                                       "time": round(time.time() - context.started, 2), **final_eval})
    context.folder.write_status("finished", step=state.global_step, max_steps=state.max_steps)


def train_to_the_end(context: RunContext, trainer, save: Callable[[object], dict | None], has_validation: bool,
                     compiled: bool = False, compile_reason: str = "compile: off") -> int:
    """The sequence every trained recipe ends with: record the setup, train (resuming from the newest complete
    checkpoint), stop on cancel or divergence, evaluate, then on the main process `save(train_output)` (which may
    add figures to the final evaluation) and mark the run finished. Returns the process exit code."""
    record_setup(context.folder, context.precision, compiled, compile_reason)
    resume = context.folder.latest_complete_checkpoint()
    output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if stopped_early(context.folder, trainer):
        return 0
    final_eval = trainer.evaluate() if has_validation else {}
    if is_main_process():
        final_eval.update(save(output) or {})
        finish_run(context, trainer, final_eval)
    return 0
