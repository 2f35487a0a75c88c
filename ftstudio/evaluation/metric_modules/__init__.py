"""The studio's metrics as `evaluate` modules, one folder each (<name>/<name>.py), loaded by their local path:
`evaluate.load("rouge")` would fetch the script from the Hub at run time and fail offline; `evaluate.load(path)`
reads the file and touches no network. A project can add its own evaluate modules by path (project setting
"metric_modules"): each is computed on every system's answers against the references, beside the studio's own.
"""

from __future__ import annotations

import math
from pathlib import Path

from ftstudio.evaluation.systems import EvaluationError
from ftstudio.store import Project, Store

HERE = Path(__file__).resolve().parent
BUILTIN = ("rouge", "bleu", "exact_match", "accuracy", "macro_f1", "json_validity")
SETTING = "metric_modules"


def builtin_path(name: str) -> Path:
    if name not in BUILTIN:
        raise KeyError(f"no built-in metric module {name!r}")
    return HERE / name


def module_name(path: str | Path) -> str:
    """A module's name: its folder's (a folder holding NAME.py), or its file's without .py."""
    return Path(path).stem


class MetricModules:
    """evaluate modules loaded once for one computation. Not shared between computations: an evaluate Metric
    holds the batch it is computing, so two threads must not use one."""

    def __init__(self):
        self._loaded: dict[str, object] = {}

    def load(self, path: str | Path):
        key = str(path)
        if key not in self._loaded:
            import evaluate

            self._loaded[key] = evaluate.load(key, keep_in_memory=True)
        return self._loaded[key]

    def compute(self, name: str, **inputs) -> dict:
        """A built-in module's result: its arithmetic called directly (scores.py), not through `evaluate`, whose
        import loads transformers' pipelines and torch (docs/benchmarks.md); the module's `compute` returns the same."""
        from ftstudio.evaluation.metric_modules.scores import SCORES

        builtin_path(name)  # a KeyError for a name that is not built in
        return SCORES[name](**inputs)

    def compute_user(self, path: str, predictions: list[str], references: list[str]) -> dict[str, float | None]:
        """A project's own module on (answers, references): each number it returns as a column named after the
        module ("NAME" when its key is the module's name, else "NAME.KEY")."""
        name = module_name(path)
        result = self.load(path).compute(predictions=predictions, references=references) or {}
        columns = {}
        for key, value in result.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                columns[name if key == name else f"{name}.{key}"] = float(value)
        return columns


def project_metric_paths(project: Project) -> list[str]:
    """The project's own evaluate modules, by path, in the order they were added."""
    return list((project.settings or {}).get(SETTING) or [])


def check_metric_module(path: str | Path) -> Path:
    """The absolute path of an evaluate module that loads, or an EvaluationError saying what is wrong."""
    given = Path(str(path or "").strip()).expanduser()
    if not str(path or "").strip():
        raise EvaluationError("Give the path of an evaluate module: a folder holding NAME/NAME.py, or a .py file.")
    resolved = given.resolve()
    script = resolved if resolved.suffix == ".py" else resolved / f"{resolved.name}.py"
    if not script.is_file():
        raise EvaluationError(f"No evaluate module at {given}: expected a .py file, or a folder NAME holding "
                              f"NAME.py (looked for {script}).")
    if module_name(resolved) in BUILTIN:
        raise EvaluationError(f"{module_name(resolved)!r} is the name of a built-in metric: rename your module.")
    try:
        MetricModules().load(resolved)
    except Exception as error:  # noqa: BLE001 -- a user's module can fail in any way; say how, keep nothing
        raise EvaluationError(f"{given} did not load as an evaluate module ({type(error).__name__}: {error}). "
                              "It needs a class deriving from evaluate.Metric with _info and _compute.") from None
    return resolved


def add_project_metric(store: Store, project: Project, path: str | Path, user_name: str | None = None) -> list[str]:
    """Add an evaluate module (checked to load) to the project's metrics; returns the project's list."""
    resolved = str(check_metric_module(path))
    paths = project_metric_paths(project)
    if any(module_name(p) == module_name(resolved) and p != resolved for p in paths):
        raise EvaluationError(f"The project already has a metric named {module_name(resolved)!r}: remove it first.")
    if resolved not in paths:
        paths.append(resolved)
        store.update_project(project.id, settings={SETTING: paths}, user_name=user_name)
    return paths


def remove_project_metric(store: Store, project: Project, path_or_name: str, user_name: str | None = None) -> list[str]:
    paths = project_metric_paths(project)
    kept = [p for p in paths if p != path_or_name and module_name(p) != path_or_name
            and p != str(Path(path_or_name).expanduser().resolve())]
    if len(kept) == len(paths):
        raise EvaluationError(f"{path_or_name!r} is not among this project's metrics: "
                              f"{', '.join(module_name(p) for p in paths) or 'it has none'}.")
    store.update_project(project.id, settings={SETTING: kept}, user_name=user_name)
    return kept
