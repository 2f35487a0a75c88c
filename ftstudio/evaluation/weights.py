"""A data-free look at a run's weights with WeightWatcher (Apache-2.0): the power-law exponent alpha of each
layer's eigenvalue spectrum, for the base model and for the merged model (base plus the adapter), side by side.

What it means: in WeightWatcher's studies, well-trained layers mostly have alpha between about 2 and 6; a layer
above 6 is often under-trained, one below 2 may be over-fitted. What it does not mean: it uses no data, so it says
nothing about whether the run answers better; a tiny model's small matrices give rough fits.

Why not the adapter alone: a LoRA update B·A has rank r, so its spectrum holds at most r non-zero eigenvalues (16
by default), and a power-law fit on so few points says nothing (WeightWatcher's own PEFT mode warns "SMALL N PL
FIT"). The merged weights W + B·A are full-rank matrices, which it can fit; the difference from the base's alpha
is what the adapter changed. The result is cached in the run folder (weights.json): the analysis runs once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ftstudio.run_folder import RunFolder, is_adapter

WEIGHTS_FILE = "weights.json"
MEANING = ("WeightWatcher fits a power law to each layer's eigenvalues without any data: alpha between about 2 and 6 "
           "usually marks a well-trained layer (above 6 under-trained, below 2 possibly over-fitted); it says nothing "
           "about whether the tuned model answers better, which only the review shows.")
ADAPTER_ONLY = ("The adapter alone (B·A, rank r) has at most r non-zero eigenvalues, too few for a power-law fit, so "
                "the merged weights (base plus adapter) are analysed instead.")
# Fewer eigenvalues than this and WeightWatcher skips the layer (its own default is 50; tiny models have 64-wide
# matrices).
MIN_EVALS = 10


class WeightsError(ValueError):
    """A run whose weights cannot be analysed, with why."""


def _alphas(model) -> dict[int, dict]:
    import weightwatcher

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    details = weightwatcher.WeightWatcher(model=model).analyze(min_evals=MIN_EVALS)
    return {int(row["layer_id"]): {"name": str(row["name"]), "alpha": float(row["alpha"]),
                                   "shape": [int(row["M"]), int(row["N"])]}
            for _, row in details.iterrows() if row.get("alpha") == row.get("alpha")}  # NaN: no fit


def analyse_weights(base_model_path: str, adapter_dir: Path) -> dict:
    """Per-layer alpha of the base model and of base plus adapter (merged in memory: one copy of the weights)."""
    from peft import PeftModel

    from ftstudio.models import load_model

    model = load_model(base_model_path)
    base = _alphas(model)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    tuned = _alphas(merged)
    layers = [{"layer": layer_id, "name": found["name"], "shape": found["shape"], "base_alpha": found["alpha"],
               "tuned_alpha": tuned.get(layer_id, {}).get("alpha")} for layer_id, found in sorted(base.items())]

    def mean(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    return {"layers": layers, "base_mean_alpha": mean(row["base_alpha"] for row in layers),
            "tuned_mean_alpha": mean(row["tuned_alpha"] for row in layers),
            "outside_2_to_6": {"base": sum(not 2 <= row["base_alpha"] <= 6 for row in layers),
                               "tuned": sum(row["tuned_alpha"] is not None and not 2 <= row["tuned_alpha"] <= 6
                                            for row in layers)},
            "analysed": "merged", "meaning": MEANING, "adapter_only": ADAPTER_ONLY}


def cached_weights(run) -> dict | None:
    """The run's weight check if it was computed (report --json's "weights"), else None."""
    path = Path(run.run_dir) / WEIGHTS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def check_weights(run, base_model_path: str) -> dict:
    """Analyse a finished LoRA run's weights once, cached in its run folder."""
    cached = cached_weights(run)
    if cached is not None:
        return cached
    from ftstudio.models import CAUSAL, family_of

    adapter = RunFolder(run.run_dir).adapter_dir
    if family_of(base_model_path) != CAUSAL:
        raise WeightsError(f"Run {run.id} trained an encoder or encoder-decoder; the weight check analyses causal "
                           "LM runs (their merged LoRA weights beside the base's).")
    if not is_adapter(adapter):
        raise WeightsError(f"Run {run.id} has no LoRA adapter to analyse ({run.status}, {run.method}): the weight "
                           "check compares a finished LoRA run's merged weights with its base model's.")
    result = analyse_weights(base_model_path, adapter)
    (Path(run.run_dir) / WEIGHTS_FILE).write_text(json.dumps(result, indent=1))
    return result
