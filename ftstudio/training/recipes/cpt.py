"""Continued pre-training (CPT): a causal LM learns a domain's raw text, the loss on every token, the texts packed
end to end into rows of max length (TRL's SFTTrainer with packing), on a LoRA or QLoRA adapter; optionally the
input embeddings and the LM head train in full beside it (PEFT's modules_to_save), as CPT recipes do.

Packing is TRL's "wrapped" strategy, the classic group_texts of transformers' run_clm: texts joined and cut into
full rows, so no step computes padding. A row may hold the end of one post and the start of the next, as in
pre-training; "bfd" keeps posts apart but needs padding-free attention (FlashAttention) to do it right.

The validation loss is logged with its perplexity (exp of the mean loss per token), curve and final figure.
"""

from __future__ import annotations

import math

from ftstudio.run_folder import RunFolder
from ftstudio.training.harness import (StopRun, begin_run, load_base, lora_config, planned_steps, say,
                                       start_from_adapter, train_to_the_end)

# The modules CPT recipes train in full beside the adapter (Llama, Qwen, SmolLM2, Mistral name them so).
EMBEDDING_MODULES = ["embed_tokens", "lm_head"]


def perplexity(loss: float) -> float:
    """exp(loss), capped so a diverged run reads as huge rather than overflowing."""
    return math.exp(min(loss, 50.0))


def cpt_config(run_dir, config, precision, has_validation: bool):
    """TRL's SFTConfig for CPT: the shared arguments, the loss on every token, wrapped packing of the "text" field."""
    from trl import SFTConfig

    from ftstudio.training.harness import trainer_arguments

    return SFTConfig(
        **trainer_arguments(run_dir, config, precision, has_validation),
        max_length=config.max_length,
        dataset_text_field="text",
        completion_only_loss=False,
        packing=True,
        packing_strategy="wrapped",
        eval_packing=True,
    )


def _trainer_class():
    from ftstudio.training.sft_trainer import StudioSFTTrainer

    class CptTrainer(StudioSFTTrainer):
        def log(self, logs, *args, **kwargs):
            # evaluate() logs the very dict it returns, so the final figure carries the perplexity too.
            if "eval_loss" in logs:
                logs["eval_perplexity"] = perplexity(logs["eval_loss"])
            return super().log(logs, *args, **kwargs)

    return CptTrainer


def train(folder: RunFolder) -> int:
    """CPT on a text version's rows ({"text": ...}), packed."""
    from datasets import load_dataset
    from peft import prepare_model_for_kbit_training
    from transformers import AutoTokenizer

    from ftstudio.training.recipes import get_recipe
    from ftstudio.training.sft_trainer import compile_decision

    context = begin_run(folder)
    config, precision, spec = context.config, context.precision, context.spec
    options = get_recipe(spec.recipe).read_options(spec.recipe_options)
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_base(spec.base_model_path, config, precision.dtype)
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=precision.gradient_checkpointing)
    extra = {"modules_to_save": list(EMBEDDING_MODULES)} if options and options.train_embeddings else {}
    model, peft_config = start_from_adapter(model, folder, lora_config(config, **extra))
    files = {split: str(folder.split_path(split)) for split in ("train", "validation") if folder.has_split(split)}
    data = load_dataset("json", data_files=files)
    trainer = _trainer_class()(
        model=model, args=cpt_config(folder.path, config, precision, "validation" in data),
        train_dataset=data["train"], eval_dataset=data.get("validation"), processing_class=tokenizer,
        peft_config=peft_config, callbacks=context.callbacks())
    if len(trainer.train_dataset) == 0:
        raise StopRun("The text version holds no text to train on: freeze one from items with text.")
    compile_layers, reason = compile_decision(config, precision, planned_steps(config, len(trainer.train_dataset)))
    say(reason)
    if compile_layers:
        trainer.compile_model()

    def save(_output) -> None:
        trainer.model.save_pretrained(str(folder.adapter_dir))
        tokenizer.save_pretrained(str(folder.adapter_dir))

    return train_to_the_end(context, trainer, save, "validation" in data, compile_layers, reason)
