"""Sequence classification on an encoder (BERT, MiniLM): AutoModelForSequenceClassification over the project's
labels, LoRA (PEFT task SEQ_CLS, the head and pooler trained in full through modules_to_save) or full fine-tuning,
with the transformers Trainer.

Batches are padded to their own longest example and grouped by length: the tutorial recipe pads every email to
the model's maximum (512 tokens for MiniLM) although most are under a hundred, which `ftstudio bench classify`
measures. After training, the validation and test splits are predicted (examples sorted by length, so padding
stays small) and their metrics and predictions are written into the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from ftstudio.models import ENCODER
from ftstudio.run_folder import RunFolder
from ftstudio.training.config import TrainConfig
from ftstudio.training.harness import StopRun, begin_run, lora_config, train_to_the_end, trainer_arguments
from ftstudio.training.recipes import ClassifierOptions, get_recipe
from ftstudio.training.recipes.classification_metrics import class_weights, write_results

LABELS_FILE = "labels.json"
# Heads that PEFT should train in full and save with the adapter: BERT's classifier and its pooler (a
# sentence-transformers checkpoint may lack pooler weights, which would otherwise be random at every load).
HEAD_MODULES = ("classifier", "score", "pooler")


def read_split(run_dir: Path, split: str) -> list[dict]:
    """The text/label rows of one split of a run folder ([] when it has none)."""
    return RunFolder(run_dir).read_split(split)


def head_modules(model) -> list[str]:
    names = {name.split(".")[-1] for name, _ in model.named_modules()}
    return [name for name in HEAD_MODULES if name in names]


def tokenized(rows: list[dict], tokenizer, labels: list[str], max_length: int):
    from datasets import Dataset

    label_ids = {label: index for index, label in enumerate(labels)}
    encoded = tokenizer([r["text"] for r in rows], truncation=True, max_length=max_length)
    return Dataset.from_dict({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                              "labels": [label_ids[r["label"]] for r in rows],
                              "length": [len(ids) for ids in encoded["input_ids"]]})


def weighted_loss(weights: list[float]):
    """Class-weighted cross-entropy for the Trainer's compute_loss_func."""
    import torch
    import torch.nn.functional as F

    tensor = torch.tensor(weights, dtype=torch.float32)

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"].float()
        return F.cross_entropy(logits, labels.to(logits.device), weight=tensor.to(logits.device))

    return loss


def predict(model, tokenizer, rows: list[dict], labels: list[str], max_length: int, batch_size: int = 32) -> list[dict]:
    """Each row with its predicted label and that label's probability; batches of similar length."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["text"]))
    predicted: dict[int, tuple[str, float]] = {}
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = tokenizer([rows[i]["text"] for i in chunk], truncation=True, max_length=max_length,
                              padding=True, return_tensors="pt").to(device)
            probabilities = model(**batch).logits.float().softmax(-1)
            best = probabilities.argmax(-1)
            for index, label_id, row_probabilities in zip(chunk, best.tolist(), probabilities):
                predicted[index] = (labels[label_id], float(row_probabilities[label_id]))
    return [{"example_id": row.get("example_id"), "text": row["text"], "label": row["label"],
             "predicted": predicted[i][0], "probability": round(predicted[i][1], 4)} for i, row in enumerate(rows)]


def save_labels(folder: Path, labels: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LABELS_FILE).write_text(json.dumps({"id2label": dict(enumerate(labels)),
                                                  "label2id": {l: i for i, l in enumerate(labels)}}, indent=1))


def read_labels(folder: Path) -> list[str]:
    mapping = json.loads((Path(folder) / LABELS_FILE).read_text())["id2label"]
    return [mapping[str(i)] for i in range(len(mapping))]


def evaluate_splits(run_dir: Path, model, tokenizer, labels: list[str], max_length: int, extra: dict) -> dict:
    predictions = {split: predict(model, tokenizer, rows, labels, max_length)
                   for split in ("validation", "test") if (rows := read_split(run_dir, split))}
    return write_results(run_dir, labels, predictions, extra)


def load_classifier(base_model_path: str, config: TrainConfig, labels: list[str], precision):
    """The encoder with a fresh head over `labels`, wrapped in a LoRA adapter (head and pooler trained in full)
    unless the method is full fine-tuning; and its tokenizer."""
    from peft import get_peft_model
    from transformers import AutoTokenizer

    from ftstudio.models import load_model

    tokenizer = AutoTokenizer.from_pretrained(base_model_path)
    model = load_model(base_model_path, dtype=precision.dtype, family=ENCODER, labels=labels)
    if config.method == "lora":
        model = get_peft_model(model, lora_config(config, "SEQ_CLS", modules_to_save=head_modules(model)))
    return model, tokenizer


def classifier_trainer(output_dir: Path, config: TrainConfig, options: ClassifierOptions, precision, model, tokenizer,
                       labels: list[str], train_rows: list[dict], validation_rows: list[dict], callbacks=()):
    """The transformers Trainer of a classifier run (the worker's and `bench classify`'s): dynamic padding,
    batches grouped by length, the class-weighted loss when asked."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    weights = class_weights([r["label"] for r in train_rows], labels)
    train_data = tokenized(train_rows, tokenizer, labels, config.max_length)
    validation_data = tokenized(validation_rows, tokenizer, labels, config.max_length) if validation_rows else None
    arguments = trainer_arguments(output_dir, config, precision, validation_data is not None)
    return Trainer(
        model=model,
        args=TrainingArguments(**arguments, train_sampling_strategy="group_by_length"),
        train_dataset=train_data,
        eval_dataset=validation_data,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if precision.cuda else None),
        compute_loss_func=weighted_loss([weights[l] for l in labels]) if options.weighted_loss else None,
        callbacks=list(callbacks),
    )


def train(folder: RunFolder) -> int:
    """Train the classifier, then predict the validation and test splits into the run folder."""
    context = begin_run(folder)
    config, precision, spec = context.config, context.precision, context.spec
    options = get_recipe(spec.recipe).read_options(spec.recipe_options) or ClassifierOptions()
    labels = list(spec.labels or [])
    train_rows, validation_rows = folder.read_split("train"), folder.read_split("validation")
    unknown = sorted({r["label"] for r in train_rows + validation_rows} - set(labels))
    if unknown:
        raise StopRun(f"Examples carry labels the project does not have ({', '.join(unknown)}): add them to the "
                      "project's labels, or relabel those examples, and freeze a new version.")
    model, tokenizer = load_classifier(spec.base_model_path, config, labels, precision)
    trainer = classifier_trainer(folder.path, config, options, precision, model, tokenizer, labels, train_rows,
                                 validation_rows, context.callbacks())

    def save(output) -> dict:
        saved = folder.adapter_dir if config.method == "lora" else folder.model_dir
        trainer.model.save_pretrained(str(saved))
        tokenizer.save_pretrained(str(saved))
        save_labels(saved, labels)
        results = evaluate_splits(folder.path, trainer.model, tokenizer, labels, config.max_length, {
            "class_weights": class_weights([r["label"] for r in train_rows], labels),
            "weighted_loss": options.weighted_loss,
            "train_examples_per_second": round(output.metrics.get("train_samples_per_second", 0.0), 2)})
        figures = {}
        for split in ("validation", "test"):
            if split in results and results[split]["examples"]:
                figures[f"{split}_accuracy"] = results[split]["accuracy"]
                figures[f"{split}_macro_f1"] = results[split]["macro_f1"]
        return figures

    return train_to_the_end(context, trainer, save, bool(validation_rows),
                            compile_reason="compile: off for encoder classifiers")
