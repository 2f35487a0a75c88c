"""What an OpenAI-compatible server of a run serves: the base model as `base` and every finished run of the same base
model under its system name (`run-N`), each with the template and system prompt it trained with.

The manifest is worked out from the store by the process that owns it (the app, or the CLI) and handed to the
server as JSON: the server process never opens the database, which the app holds as its only writer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ftstudio.evaluation.generations import run_spec, tuned_system
from ftstudio.evaluation.systems import BASE, EvaluationError
from ftstudio.models import CAUSAL, ModelError, family_of
from ftstudio.store import Run, Store


@dataclass
class ServedModel:
    """One name the server answers to: its adapter (none for the base model) and the template its prompts use."""

    name: str
    template: dict
    adapter_dir: str | None = None
    run_id: int | None = None


@dataclass
class ServeManifest:
    """The base model every served name shares, and the names."""

    base_model_path: str
    models: list[ServedModel] = field(default_factory=list)
    run_id: int | None = None  # the run the server was started for

    @property
    def names(self) -> list[str]:
        return [model.name for model in self.models]

    @property
    def adapters(self) -> dict[str, str]:
        return {model.name: model.adapter_dir for model in self.models if model.adapter_dir}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ServeManifest":
        return cls(data["base_model_path"], [ServedModel(**model) for model in data.get("models", [])],
                   data.get("run_id"))

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def read(cls, path: Path) -> "ServeManifest":
        return cls.from_dict(json.loads(Path(path).read_text()))


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
