"""Causal LMs (SmolLM2, Llama, Qwen): SFT on prompt/completion pairs (sft_trainer.py) and DPO on preference pairs
(dpo_trainer.py), each a LoRA adapter (or QLoRA over a 4-bit base)."""

from __future__ import annotations

from ftstudio.run_folder import RunFolder
from ftstudio.training.harness import (RunContext, StopRun, begin_run, load_base, lora_config, planned_steps, say,
                                       start_from_adapter, train_to_the_end)


def _dpo_trainer(context: RunContext, model, tokenizer, data, callbacks):
    """DPO on a new LoRA adapter (reference: the adapter switched off), or on the adapter of the run it starts
    from (reference: TRL's frozen copy of that adapter)."""
    from peft import PeftModel

    from ftstudio.training.dpo_trainer import StudioDPOTrainer, dpo_config

    config, start = context.config, context.folder.start_adapter_dir
    peft_config = lora_config(config)
    if start.exists():
        model = PeftModel.from_pretrained(model, str(start), is_trainable=True)
        peft_config = None
    return StudioDPOTrainer(
        model=model,
        args=dpo_config(context.folder.path, config, context.precision, "validation" in data),
        train_dataset=data["train"],
        eval_dataset=data.get("validation"),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
        max_prompt_length=config.max_prompt_length,
        max_completion_length=config.max_completion_length,
    )


def _sft_trainer(context: RunContext, model, tokenizer, data, callbacks):
    from ftstudio.training.sft_trainer import StudioSFTTrainer, sft_config

    model, peft_config = start_from_adapter(model, context.folder, lora_config(context.config))
    return StudioSFTTrainer(
        model=model,
        args=sft_config(context.folder.path, context.config, context.precision, "validation" in data),
        train_dataset=data["train"],
        eval_dataset=data.get("validation"),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )


def train(folder: RunFolder) -> int:
    """The causal LM recipes: SFT (TRL's SFTTrainer, the studio's lean loss) and DPO."""
    from datasets import load_dataset
    from peft import prepare_model_for_kbit_training
    from transformers import AutoTokenizer

    from ftstudio.training.sft_trainer import compile_decision

    context = begin_run(folder)
    config, precision, spec = context.config, context.precision, context.spec
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_base(spec.base_model_path, config, precision.dtype)
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=precision.gradient_checkpointing)
    files = {split: str(folder.split_path(split)) for split in ("train", "validation") if folder.has_split(split)}
    data = load_dataset("json", data_files=files)
    build = _dpo_trainer if config.is_dpo else _sft_trainer
    trainer = build(context, model, tokenizer, data, context.callbacks())
    if len(trainer.train_dataset) == 0:
        raise StopRun(f"No training example is left after tokenizing with max length {config.sequence_length}: "
                      "the prompts are longer than that. Raise max length or shorten the template.")
    compile_layers, reason = compile_decision(config, precision, planned_steps(config, len(trainer.train_dataset)))
    if config.is_dpo and compile_layers:
        compile_layers, reason = False, "compile: off for DPO runs (not measured yet)"
    say(reason)
    if compile_layers:
        trainer.compile_model()

    def save(_output) -> None:
        if config.is_dpo:
            trainer.save_adapter(folder.adapter_dir)
        else:
            trainer.model.save_pretrained(str(folder.adapter_dir))
        tokenizer.save_pretrained(str(folder.adapter_dir))

    return train_to_the_end(context, trainer, save, "validation" in data, compile_layers, reason)
