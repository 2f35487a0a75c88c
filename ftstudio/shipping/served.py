"""What an OpenAI-compatible server of a run serves: the base model as `base` and every finished run of the same base
model under its system name (`run-N`), each with the template and system prompt it trained with (the manifest,
manifest.py), worked out from the store."""

from __future__ import annotations

from ftstudio.evaluation.generations import run_spec, tuned_system
from ftstudio.evaluation.systems import BASE, EvaluationError
from ftstudio.models import CAUSAL, ModelError, family_of
from ftstudio.shipping.manifest import ServedModel, ServeManifest
from ftstudio.store import Run, Store


def _text_run(store: Store, run: Run) -> ServedModel | None:
    """A run as a served model, or None when it cannot be served (a classifier, no adapter, its folder gone)."""
    try:
        system = tuned_system(store, run)
    except EvaluationError:
        return None
    return ServedModel(run.system, system.template.to_dict(), system.adapter_dir, run.id)


def serving_manifest(store: Store, run: Run) -> ServeManifest:
    """The models a server started for `run` serves: `base` (with this run's template, as a review shows it), this
    run, and every other finished text run of the studio trained on the same base model."""
    served = tuned_system(store, run)  # refuses an unfinished run or a classifier, saying why
    base_path = run_spec(run).base_model_path or run.base_model
    try:
        if family_of(base_path) != CAUSAL:
            raise EvaluationError(f"Run {run.id} is a {family_of(base_path)} model: only causal language models are "
                                  "served as chat models.")
    except (OSError, ValueError) as error:
        raise ModelError(f"The base model of run {run.id} ({base_path}) cannot be read: {error}") from None
    models = [ServedModel(BASE, served.template.to_dict()), ServedModel(run.system, served.template.to_dict(),
                                                                         served.adapter_dir, run.id)]
    for other in store.list_runs(statuses=("finished",)):
        if other.id == run.id:
            continue
        try:
            same_base = run_spec(other).base_model_path == base_path
        except EvaluationError:
            continue
        model = _text_run(store, other) if same_base else None
        if model is not None:
            models.append(model)
    return ServeManifest(base_path, models, run.id)
