"""`ftstudio bench classify`: the studio's encoder classifier against the tutorial recipe and the feature
baseline, side by side on one generated, labeled inbox (bench/labeled_emails.py).

- studio: the worker's code path (`load_classifier`, `classifier_trainer`): LoRA on the encoder with the head
  trained in full, batches padded to their own longest email and grouped by length.
- tutorial: the Hugging Face text-classification tutorial's recipe on the same encoder: the dataset tokenized with
  `padding="max_length", truncation=True` (every email padded to the tokenizer's 512 tokens), full fine-tuning
  with `Trainer` at the tutorial's learning rate 2e-5.
- features: the frozen encoder's mean-pooled embeddings and a scikit-learn logistic regression.

Both trained variants take the same number of optimizer steps at the same batch size, each in its own child
process. Throughput is training examples per second from the end of the first optimizer step (which warms up) to
the end of the last; for the feature baseline, training examples over the time to embed them and fit. Accuracy and
macro-F1 are measured on the same held-out test emails, predicted the same way for every variant.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LABELS = ["phishing", "legitimate"]
DEFAULTS = {"emails": 2400, "test_share": 1 / 6, "steps": 100, "batch_size": 16, "max_length": 256,
            "studio_learning_rate": 1e-3, "tutorial_learning_rate": 2e-5, "seed": 0}


def _log(message: str) -> None:
    print(f"[bench classify] {message}", file=sys.stderr, flush=True)


def _timing_callback(times: list):
    from transformers import TrainerCallback

    class StepTimes(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter())

    return StepTimes()


def _config(options: dict, method: str, learning_rate: float):
    from ftstudio.training.config import TrainConfig

    return TrainConfig(method=method, max_steps=options["steps"], batch_size=options["batch_size"],
                       max_length=options["max_length"], learning_rate=learning_rate, eval_steps=0,
                       save_steps=100_000, seed=options["seed"], divergence_factor=0)


def _scores(rows: list[dict], predictions: list[dict]) -> dict:
    from ftstudio.training.recipes.classification_metrics import classification_summary

    summary = classification_summary([r["label"] for r in rows], [p["predicted"] for p in predictions], LABELS)
    hard = [(r, p) for r, p in zip(rows, predictions) if r.get("hard")]
    return {"test_accuracy": round(summary["accuracy"], 4), "test_macro_f1": round(summary["macro_f1"], 4),
            "hard_accuracy": round(sum(r["label"] == p["predicted"] for r, p in hard) / max(len(hard), 1), 4),
            "confusion": summary["confusion"]["matrix"]}


def measure_trained(kind: str, model_path: str, train_rows: list[dict], test_rows: list[dict], options: dict) -> dict:
    import torch

    from ftstudio.training.device import choose_precision
    from ftstudio.training.recipes import ClassifierOptions
    from ftstudio.training.recipes.classification import classifier_trainer, load_classifier, predict

    studio = kind == "studio"
    config = _config(options, "lora" if studio else "full",
                     options["studio_learning_rate" if studio else "tutorial_learning_rate"])
    precision = choose_precision(config)
    torch.manual_seed(config.seed)
    times: list[float] = []
    with tempfile.TemporaryDirectory() as out:
        if studio:
            model, tokenizer = load_classifier(model_path, config, LABELS, precision)
            trainer = classifier_trainer(Path(out), config, ClassifierOptions(), precision, model, tokenizer, LABELS,
                                         train_rows, [], [_timing_callback(times)])
            trainer.args.save_strategy = "no"
        else:
            trainer, tokenizer = _tutorial_trainer(model_path, out, config, precision, train_rows, times)
        trainer.train()
        model = trainer.model
    predictions = predict(model, tokenizer, test_rows, LABELS, config.max_length)
    seconds, timed_steps = times[-1] - times[0], len(times) - 1
    return {"examples_per_second": round(timed_steps * config.batch_size / seconds, 2),
            "seconds_per_step": round(seconds / timed_steps, 3), "timed_steps": timed_steps,
            "learning_rate": config.learning_rate, "dtype": precision.dtype_name,
            "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            **_scores(test_rows, predictions)}


def _tutorial_trainer(model_path: str, out: str, config, precision, train_rows: list[dict], times: list):
    """The tutorial's recipe, as its documentation writes it (with the studio's number format and schedule length,
    so that only the recipe differs)."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={l: i for i, l in enumerate(LABELS)}, dtype=precision.dtype)
    data = Dataset.from_dict({"text": [r["text"] for r in train_rows],
                              "label": [LABELS.index(r["label"]) for r in train_rows]})
    data = data.map(lambda batch: tokenizer(batch["text"], padding="max_length", truncation=True), batched=True)
    args = TrainingArguments(output_dir=out, learning_rate=config.learning_rate,
                             per_device_train_batch_size=config.batch_size, max_steps=config.max_steps,
                             weight_decay=0.01, save_strategy="no", eval_strategy="no", report_to=[],
                             logging_steps=10, disable_tqdm=True, seed=config.seed, bf16=precision.bf16,
                             use_cpu=not precision.cuda)
    return Trainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                   callbacks=[_timing_callback(times)]), tokenizer


def measure_features(model_path: str, train_rows: list[dict], test_rows: list[dict], options: dict) -> dict:
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer

    from ftstudio.training.recipes.features import embed

    torch.manual_seed(options["seed"])
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    encoder = AutoModel.from_pretrained(model_path, dtype=torch.float32).eval()
    started = time.perf_counter()
    vectors = embed(encoder, tokenizer, [r["text"] for r in train_rows], options["max_length"], 32)
    classifier = LogisticRegression(max_iter=2000, random_state=options["seed"]).fit(
        vectors, [r["label"] for r in train_rows])
    seconds = time.perf_counter() - started
    test_vectors = embed(encoder, tokenizer, [r["text"] for r in test_rows], options["max_length"], 32)
    predictions = [{"predicted": str(label)} for label in classifier.predict(test_vectors)]
    return {"examples_per_second": round(len(train_rows) / seconds, 2), "seconds": round(seconds, 2),
            "trainable_parameters": int(classifier.coef_.size + classifier.intercept_.size),
            **_scores(test_rows, predictions)}


def measure(kind: str, model_path: str, data_path: str, options: dict) -> dict:
    data = json.loads(Path(data_path).read_text())
    if kind == "features":
        return measure_features(model_path, data["train"], data["test"], options)
    return measure_trained(kind, model_path, data["train"], data["test"], options)


def bench_classify(model: str | None = None, **overrides) -> dict:
    from ftstudio.bench.labeled_emails import labeled_emails
    from ftstudio.models import embedded_encoder_dir

    options = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    model_path = str(model or embedded_encoder_dir())
    emails = labeled_emails(options["emails"], options["seed"])
    random.Random(options["seed"]).shuffle(emails)
    cut = int(len(emails) * (1 - options["test_share"]))
    split = {"train": emails[:cut], "test": emails[cut:]}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        data_path = Path(folder) / "emails.json"
        data_path.write_text(json.dumps(split))
        for kind in ("studio", "tutorial", "features"):
            _log(f"{kind}: {options['steps'] if kind != 'features' else 'no'} steps of {options['batch_size']}")
            child = subprocess.run([sys.executable, "-m", "ftstudio.bench.classify", kind, model_path, str(data_path),
                                    json.dumps(options)], capture_output=True, text=True, timeout=7200)
            if child.returncode != 0:
                raise RuntimeError(f"bench classify {kind} failed:\n{child.stderr[-3000:]}")
            results[kind] = json.loads(child.stdout.strip().splitlines()[-1])
    studio, tutorial = results["studio"], results["tutorial"]
    return {"benchmark": "classify", "model": Path(model_path).name, **options,
            "train_emails": len(split["train"]), "test_emails": len(split["test"]),
            "phishing_share": round(sum(e["label"] == "phishing" for e in emails) / len(emails), 3),
            "hard_share": round(sum(e["hard"] for e in emails) / len(emails), 3),
            "studio": studio, "tutorial": tutorial, "features": results["features"],
            "throughput_ratio": round(studio["examples_per_second"] / tutorial["examples_per_second"], 2),
            "macro_f1_difference": round(studio["test_macro_f1"] - tutorial["test_macro_f1"], 4),
            "goal": "throughput ratio >= 3 at macro-F1 difference >= 0"}


if __name__ == "__main__":
    from ftstudio.models import without_bitsandbytes

    without_bitsandbytes()  # as the studio's own children: no 4-bit model here
    kind, model_path, data_path, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    print(json.dumps(measure(kind, model_path, data_path, options)))
