"""Classification metrics of a run's predictions (scikit-learn), class weights, and the run folder's files that
hold them: classification.json (metrics per split) and predictions.jsonl (one line per evaluated example)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

METRICS_FILE = "classification.json"
PREDICTIONS_FILE = "predictions.jsonl"


def classification_summary(true: list[str], predicted: list[str], labels: list[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: true label,
    columns: predicted label, both in `labels` order)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    if not true:
        return {"examples": 0, "accuracy": None, "macro_f1": None, "per_class": {},
                "confusion": {"labels": list(labels), "matrix": []}}
    precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=labels,
                                                                     zero_division=0)
    return {
        "examples": len(true),
        "accuracy": float(accuracy_score(true, predicted)),
        "macro_f1": float(f1_score(true, predicted, labels=labels, average="macro", zero_division=0)),
        "per_class": {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for label, p, r, f, s in zip(labels, precision, recall, f1, support)},
        "confusion": {"labels": list(labels),
                      "matrix": confusion_matrix(true, predicted, labels=labels).tolist()},
    }


def class_weights(train_labels: list[str], labels: list[str]) -> dict[str, float]:
    """total / (classes x count) per label, as scikit-learn's 'balanced' weighting; a missing label gets 0."""
    counts = Counter(train_labels)
    total = sum(counts[label] for label in labels)
    return {label: round(total / (len(labels) * counts[label]), 4) if counts[label] else 0.0 for label in labels}


def write_results(run_dir: Path, labels: list[str], predictions: dict[str, list[dict]], extra: dict | None = None) -> dict:
    """Write classification.json and predictions.jsonl from {split: [{example_id, text, label, predicted,
    probability}]}; returns the metrics written."""
    results = {"labels": list(labels), **(extra or {})}
    for split, rows in predictions.items():
        results[split] = classification_summary([r["label"] for r in rows], [r["predicted"] for r in rows], labels)
    with (run_dir / PREDICTIONS_FILE).open("w", encoding="utf-8") as handle:
        for split, rows in predictions.items():
            for row in rows:
                handle.write(json.dumps({"split": split, **row}, ensure_ascii=False) + "\n")
    (run_dir / METRICS_FILE).write_text(json.dumps(results, indent=1))
    return results


def read_results(run_dir: Path) -> dict | None:
    path = Path(run_dir) / METRICS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def read_predictions(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / PREDICTIONS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
