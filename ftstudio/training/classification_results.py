"""What a classifier run's folder says: its test metrics (the report's "classification" entry), the misclassified
test items, the baseline beside the fine-tuned runs, and its predictions stored like generations so the results
view and `ftstudio report` find them where they find a causal model's outputs."""

from __future__ import annotations

from pathlib import Path

from ftstudio.store import Run, Store
from ftstudio.training.recipes.classification_metrics import read_predictions, read_results

PREDICTIONS_SETTINGS = "classifier-predictions"


def classification_entry(run: Run) -> dict | None:
    """The test split's accuracy, macro_f1, per_class and confusion (validation's when there is no test split),
    with the validation figures and class weights beside them; None for a run that is not a classifier."""
    results = read_results(Path(run.run_dir))
    if results is None:
        return None
    split = "test" if (results.get("test") or {}).get("examples") else "validation"
    headline = results.get(split) or {}
    entry = {key: headline.get(key) for key in ("accuracy", "macro_f1", "per_class", "confusion", "examples")}
    entry.update(split=split, method=run.method, labels=results.get("labels"),
                 validation={k: v for k, v in (results.get("validation") or {}).items() if k != "confusion"},
                 class_weights=results.get("class_weights"), weighted_loss=results.get("weighted_loss"),
                 train_examples_per_second=results.get("train_examples_per_second"))
    return entry


def misclassified(run: Run, split: str = "test", limit: int = 200) -> list[dict]:
    """The test items the run got wrong, its most confident mistakes first (the ones worth reading)."""
    wrong = [p for p in read_predictions(Path(run.run_dir)) if p["split"] == split and p["predicted"] != p["label"]]
    wrong.sort(key=lambda p: -p.get("probability", 0))
    return [{"example_id": p.get("example_id"), "text": p["text"], "label": p["label"], "predicted": p["predicted"],
             "probability": p.get("probability")} for p in wrong[:limit]]


def side_by_side(store: Store, project_id: int) -> list[dict]:
    """Every finished classifier run of a project (fine-tuned and feature baseline) with its headline figures."""
    rows = []
    for run in store.list_runs(project_id, statuses=("finished",)):
        entry = classification_entry(run)
        if entry is None:
            continue
        rows.append({"run": run.id, "method": run.method, "base_model": Path(str(run.base_model)).name,
                     "version": run.version_name, "split": entry["split"], "accuracy": entry["accuracy"],
                     "macro_f1": entry["macro_f1"],
                     "validation_macro_f1": entry["validation"].get("macro_f1")})
    return rows


def store_predictions(store: Store, run: Run) -> int:
    """Put a finished classifier's predictions into the generations table (system run-N, output the predicted
    label, reference the true one); stored once, under a cache key per run and example."""
    predictions = read_predictions(Path(run.run_dir))
    rows = [{"project_id": run.project_id, "cache_key": f"predictions:{run.id}:{p['split']}:{p.get('example_id')}",
             "settings_key": PREDICTIONS_SETTINGS, "item_key": f"example:{p.get('example_id')}",
             "system": run.system, "run_id": run.id, "version_id": run.version_id, "example_id": p.get("example_id"),
             "input": p["text"], "reference": p["label"], "prompt": p["text"], "output": p["predicted"],
             "settings": {"kind": "classifier", "method": run.method, "base_model": run.base_model},
             "metadata": {"label": p["label"], "split": p["split"], "probability": p.get("probability")}}
            for p in predictions]
    return store.add_generations(rows) if rows else 0


def stored_predictions(store: Store, run: Run) -> list:
    return [g for g in store.list_generations(run.project_id, PREDICTIONS_SETTINGS, [run.system]) if g.run_id == run.id]


def version_class_weights(store: Store, project, version_name: str) -> dict:
    """The training split's count and loss weight per label of a classification version (what weighted loss
    would use), so the imbalance is seen before a run starts."""
    from collections import Counter

    from ftstudio.training.recipes.classification_metrics import class_weights

    version = store.find_version(project.id, version_name) if version_name else None
    if version is None or not project.labels:
        return {}
    labels = [row.label or row.output for row in store.version_rows(version.id, "train")]
    counts, weights = Counter(labels), class_weights(labels, project.labels)
    return {label: {"count": counts[label], "weight": weights[label]} for label in project.labels}


def describe_family(spec: str, cache_root: Path) -> str:
    """Which family a base model is and which recipes it trains with, read from its config."""
    from ftstudio.models import FAMILIES, family_of, materialize
    from ftstudio.training.recipes import RECIPES

    family = family_of(materialize(spec, cache_root))
    recipes = [f"{recipe.name} ({', '.join(recipe.methods)})" for recipe in RECIPES.values() if recipe.family == family]
    return f"{FAMILIES[family]}; trains with {'; '.join(recipes)}"
