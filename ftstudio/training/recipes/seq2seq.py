"""Encoder-decoder models (T5, Flan-T5, BART): AutoModelForSeq2SeqLM with LoRA (PEFT task SEQ_2_SEQ_LM, on the
layers PEFT adapts by default for the architecture: T5's q and v), the transformers Seq2SeqTrainer.

The prompt, rendered with the version's template, goes into the encoder; the labels are the output's tokens
alone (the decoder never has to learn to repeat the prompt, unlike a causal LM trained on the whole text).
Generation for review loads the same base with the adapter switched on and off (evaluation/worker.py).
"""

from __future__ import annotations

from ftstudio.run_folder import RunFolder
from ftstudio.training.config import TrainConfig
from ftstudio.training.harness import StopRun, begin_run, train_to_the_end, trainer_arguments
from ftstudio.training.recipes import Seq2SeqOptions, get_recipe


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


def train(folder: RunFolder) -> int:
    """LoRA on an encoder-decoder with the transformers Seq2SeqTrainer."""
    from peft import get_peft_model
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

    from ftstudio.models import SEQ2SEQ, load_model

    context = begin_run(folder)
    config, precision, spec = context.config, context.precision, context.spec
    options = get_recipe(spec.recipe).read_options(spec.recipe_options) or Seq2SeqOptions()
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model_path)
    model = get_peft_model(load_model(spec.base_model_path, dtype=precision.dtype, family=SEQ2SEQ),
                           lora_for_seq2seq(config))
    train_rows, validation_rows = folder.read_split("train"), folder.read_split("validation")
    if not train_rows:
        raise StopRun("The run folder holds no training examples.")
    train_data = tokenized(train_rows, tokenizer, config.max_length, options.max_target_length)
    validation_data = tokenized(validation_rows, tokenizer, config.max_length, options.max_target_length) \
        if validation_rows else None
    trainer = Seq2SeqTrainer(
        model=model,
        args=Seq2SeqTrainingArguments(**trainer_arguments(folder.path, config, precision, validation_data is not None),
                                      train_sampling_strategy="group_by_length"),
        train_dataset=train_data,
        eval_dataset=validation_data,
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        callbacks=context.callbacks(),
    )

    def save(_output) -> None:
        trainer.model.save_pretrained(str(folder.adapter_dir))
        tokenizer.save_pretrained(str(folder.adapter_dir))

    return train_to_the_end(context, trainer, save, validation_data is not None,
                            compile_reason="compile: off for seq2seq models")
