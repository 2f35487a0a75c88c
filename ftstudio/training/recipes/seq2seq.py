"""Encoder-decoder models (T5, Flan-T5, BART): AutoModelForSeq2SeqLM with LoRA (PEFT task SEQ_2_SEQ_LM, on the
layers PEFT adapts by default for the architecture: T5's q and v), the transformers Seq2SeqTrainer.

The prompt, rendered with the version's template, goes into the encoder; the labels are the output's tokens
alone (the decoder never has to learn to repeat the prompt, unlike a causal LM trained on the whole text).
Generation for review loads the same base with the adapter switched on and off (evaluation/worker.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ftstudio.training.config import TrainConfig
from ftstudio.training.folders import latest_complete_checkpoint, write_status
from ftstudio.training.recipes import Seq2SeqOptions, get_recipe


def _rows(run_dir: Path, split: str) -> list[dict]:
    path = run_dir / "data" / f"{split}.jsonl"
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()] if path.exists() else []


def tokenized(rows: list[dict], tokenizer, max_length: int, max_target_length: int):
    from datasets import Dataset

    inputs = tokenizer([r["prompt"] for r in rows], truncation=True, max_length=max_length)
    targets = tokenizer(text_target=[r["completion"].strip() for r in rows], truncation=True,
                        max_length=max_target_length)["input_ids"]
    eos = tokenizer.eos_token_id
    # Tokenizers that add no end-of-sequence token themselves still need one, or generation never stops.
    labels = [ids if not ids or ids[-1] == eos or eos is None else ids + [eos] for ids in targets]
    return Dataset.from_dict({"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"],
                              "labels": labels, "length": [len(ids) for ids in inputs["input_ids"]]})


def lora_for_seq2seq(config: TrainConfig):
    """all-linear here means PEFT's default layers for the architecture (T5: q, v; BART: q_proj, v_proj), the
    usual choice for encoder-decoders; comma-separated names override it."""
    from peft import LoraConfig

    targets = None if config.target_modules == "all-linear" else \
        [name.strip() for name in config.target_modules.split(",") if name.strip()]
    return LoraConfig(r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout, target_modules=targets,
                      task_type="SEQ_2_SEQ_LM")


def train(run_dir: Path, run: dict) -> int:
    import torch
    from peft import get_peft_model
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

    from ftstudio.models import SEQ2SEQ, load_model
    from ftstudio.training.device import choose_precision
    from ftstudio.training.worker import (StopRun, _callbacks, _is_main_process, finish_run, record_setup,
                                          stopped_early, trainer_arguments)

    config = TrainConfig.from_dict(run["config"])
    options = get_recipe(run["recipe"]).read_options(run.get("recipe_options")) or Seq2SeqOptions()
    started = time.time()
    precision = choose_precision(config)
    print(f"[ftstudio] {precision.why}", file=sys.stderr, flush=True)
    torch.manual_seed(config.seed)
    write_status(run_dir, "running", step=0, pid=os.getpid())
    tokenizer = AutoTokenizer.from_pretrained(run["base_model_path"])
    model = get_peft_model(load_model(run["base_model_path"], dtype=precision.dtype, family=SEQ2SEQ),
                           lora_for_seq2seq(config))
    train_rows, validation_rows = _rows(run_dir, "train"), _rows(run_dir, "validation")
    if not train_rows:
        raise StopRun("The run folder holds no training examples.")
    train_data = tokenized(train_rows, tokenizer, config.max_length, options.max_target_length)
    validation_data = tokenized(validation_rows, tokenizer, config.max_length, options.max_target_length) \
        if validation_rows else None
    trainer = Seq2SeqTrainer(
        model=model,
        args=Seq2SeqTrainingArguments(**trainer_arguments(run_dir, config, precision, validation_data is not None),
                                      train_sampling_strategy="group_by_length"),
        train_dataset=train_data,
        eval_dataset=validation_data,
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        callbacks=_callbacks(run_dir, started, config.divergence_factor, config.learning_rate),
    )
    record_setup(run_dir, precision, False, "compile: off for seq2seq models")
    resume = latest_complete_checkpoint(run_dir)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if stopped_early(run_dir, trainer):
        return 0
    final_eval = trainer.evaluate() if validation_data is not None else {}
    if _is_main_process():
        trainer.model.save_pretrained(str(run_dir / "adapter"))
        tokenizer.save_pretrained(str(run_dir / "adapter"))
        finish_run(run_dir, trainer, started, final_eval)
    return 0
