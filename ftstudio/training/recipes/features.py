"""The feature baseline: every example embedded once by the frozen encoder (mean of its last hidden states, the
pooling sentence-transformers uses for MiniLM), then a scikit-learn logistic regression fitted on the training
split. No gradient step touches the encoder; it takes seconds where fine-tuning takes minutes, and shows what
fine-tuning buys. Cancel is obeyed between batches; a resumed run starts again (it is that cheap)."""

from __future__ import annotations

import json
import os
import sys
import time

from ftstudio.run_folder import RunFolder
from ftstudio.training.config import TrainConfig
from ftstudio.training.recipes import FeatureOptions, get_recipe
from ftstudio.training.recipes.classification import save_labels
from ftstudio.training.recipes.classification_metrics import class_weights, write_results

CLASSIFIER_FILE = "classifier.joblib"


class Cancelled(Exception):
    pass


def embed(model, tokenizer, texts: list[str], max_length: int, batch_size: int, should_stop=lambda: False):
    """Mean-pooled last hidden states, one row per text (batches of similar length, order kept)."""
    import numpy as np
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows = [None] * len(texts)
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            if should_stop():
                raise Cancelled
            chunk = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in chunk], truncation=True, max_length=max_length, padding=True,
                              return_tensors="pt").to(device)
            hidden = model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            for index, vector in zip(chunk, pooled.cpu().numpy()):
                rows[index] = vector
    return np.stack(rows) if rows else np.zeros((0, model.config.hidden_size))


def train(folder: RunFolder) -> int:
    """Embed every split with the frozen encoder, fit the regression, predict validation and test."""
    import joblib
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer

    spec = folder.spec
    config = TrainConfig.from_dict(spec.config)
    options = get_recipe(spec.recipe).read_options(spec.recipe_options) or FeatureOptions()
    labels = list(spec.labels or [])
    started = time.time()
    torch.manual_seed(config.seed)
    folder.write_status("running", step=0, max_steps=1, pid=os.getpid())
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model_path)
    encoder = AutoModel.from_pretrained(spec.base_model_path, dtype=torch.float32).eval()
    should_stop = folder.cancel_requested
    splits = {split: folder.read_split(split) for split in ("train", "validation", "test")}
    try:
        vectors = {split: embed(encoder, tokenizer, [r["text"] for r in rows], config.max_length,
                                max(config.batch_size, 32), should_stop)
                   for split, rows in splits.items() if rows}
    except Cancelled:
        folder.write_status("cancelled", step=0, max_steps=1)
        return 0
    embedded = time.time()
    train_labels = [r["label"] for r in splits["train"]]
    classifier = LogisticRegression(C=options.regularization, max_iter=2000, random_state=config.seed,
                                    class_weight="balanced" if options.weighted_loss else None)
    classifier.fit(vectors["train"], train_labels)
    predictions = {}
    for split, rows in splits.items():
        if not rows:
            continue
        probabilities = classifier.predict_proba(vectors[split])
        predictions[split] = [
            {"example_id": row.get("example_id"), "text": row["text"], "label": row["label"],
             "predicted": str(classifier.classes_[best]), "probability": round(float(p[best]), 4)}
            for row, p, best in zip(rows, probabilities, probabilities.argmax(1))]
    saved = folder.features_dir
    save_labels(saved, labels)
    joblib.dump(classifier, saved / CLASSIFIER_FILE)
    (saved / "encoder.json").write_text(json.dumps({"base_model": spec.base_model, "pooling": "mean",
                                                      "max_length": config.max_length}))
    seconds = time.time() - started
    results = write_results(folder.path, labels, predictions, {
        "class_weights": class_weights(train_labels, labels), "weighted_loss": options.weighted_loss,
        "train_examples_per_second": round(len(train_labels) / max(seconds, 1e-9), 2),
        "embedding_seconds": round(embedded - started, 2)})
    record = {"step": 1, "max_steps": 1, "time": round(seconds, 2)}
    for split in ("validation", "test"):
        if split in results:
            record[f"{split}_accuracy"], record[f"{split}_macro_f1"] = (results[split]["accuracy"],
                                                                        results[split]["macro_f1"])
    folder.append_metrics(record)
    folder.write_status("finished", step=1, max_steps=1)
    print(f"[ftstudio] feature baseline: {len(train_labels)} training examples in {seconds:.1f} s", file=sys.stderr)
    return 0
