"""Sweeps: a grid of run settings (learning_rate=1e-4,3e-4 r=8,16) trained one run after another in the queue,
then ranked by validation loss, or by the objective's own figure where a run has no validation loss (GRPO's mean
reward). A sweep is recorded in the project's settings (its runs, grid and base settings): no table of its own.

A plain grid is written here rather than through Optuna: a grid is a product of lists, and the studio's queue
already runs one run at a time with cancel; Optuna would earn its place for searches beyond a grid.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, fields

from ftstudio.run_folder import RunFolder
from ftstudio.store import Project, Store
from ftstudio.training.config import TrainConfig, option_fields
from ftstudio.training.prepare import RunError

SWEEPS_KEY = "sweeps"
MAX_RUNS = 64
# GRPO's figure: the mean reward over its last logged steps (higher is better).
REWARD_STEPS = 5


class SweepError(RunError):
    """A grid that cannot be run as given, with what to do."""


def _typed(name: str, text: str, default):
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise SweepError(f"{name} takes true or false, not {text!r}.")
        return text.lower() in ("true", "1", "yes")
    try:
        return type(default)(float(text)) if isinstance(default, int) else type(default)(text)
    except ValueError:
        raise SweepError(f"{name}={text!r}: {name} takes {type(default).__name__} values.") from None


def parse_grid(pairs: list[str]) -> dict[str, list]:
    """["learning_rate=1e-4,3e-4", "r=8,16"] -> {"learning_rate": [0.0001, 0.0003], "r": [8, 16]}, each value of
    its setting's type (a run setting or a recipe option)."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    defaults.update({name: option.default for name, option in option_fields().items()})
    grid: dict[str, list] = {}
    for pair in pairs:
        name, sep, values = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise SweepError(f"A grid entry looks like learning_rate=1e-4,3e-4; got {pair!r}.")
        if name not in defaults:
            raise SweepError(f"{name} is no run setting: choose from {', '.join(defaults)}.")
        grid[name] = [_typed(name, value.strip(), defaults[name]) for value in values.split(",") if value.strip()]
    if not grid:
        raise SweepError("Give a grid: --grid learning_rate=1e-4,3e-4 r=8,16.")
    return grid


def grid_points(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, in order."""
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    if len(points) > MAX_RUNS:
        raise SweepError(f"This grid makes {len(points)} runs; a sweep runs at most {MAX_RUNS}. Narrow it.")
    return points


@dataclass
class Sweep:
    id: int
    runs: list[int]
    grid: dict
    created: str


def list_sweeps(project: Project) -> list[Sweep]:
    """The project's sweeps, newest first."""
    return [Sweep(**entry) for entry in reversed(project.settings.get(SWEEPS_KEY) or [])]


def start_sweep(store: Store, manager, project: Project, version_name: str, config: TrainConfig, grid: dict,
                options: dict | None = None, user_name: str | None = None) -> Sweep:
    """Queue one run per grid point (the queue runs them one after another) and record the sweep."""
    points = grid_points(grid)
    option_names = set(option_fields())
    configs = [(TrainConfig.from_dict({**config.to_dict(), **point}),
                {**(options or {}), **{k: v for k, v in point.items() if k in option_names}}) for point in points]
    for run_config, _ in configs:
        run_config.check()  # every point, before any run is queued
    runs = [manager.create_run(project, version_name, run_config, user_name, options=run_options)
            for run_config, run_options in configs]
    sweeps = list(store.get_project(project.id).settings.get(SWEEPS_KEY) or [])
    sweep = Sweep(id=max((s["id"] for s in sweeps), default=0) + 1, runs=runs, grid=grid,
                  created=time.strftime("%Y-%m-%dT%H:%M:%S"))
    store.update_project(project.id, settings={SWEEPS_KEY: [*sweeps, sweep.__dict__]}, user_name=user_name)
    return sweep


def find_sweep(store: Store, project: Project, sweep_id: int | None) -> Sweep:
    """The sweep with this id, or the newest one."""
    sweeps = list_sweeps(store.get_project(project.id))
    found = next((s for s in sweeps if sweep_id in (None, s.id)), None)
    if found is None:
        raise SweepError(f"{project.name} has no sweep {sweep_id}." if sweep_id else
                         f"{project.name} has no sweep yet: start one with ftstudio sweep --grid ...")
    return found


def cancel_sweep(store: Store, manager, sweep: Sweep) -> int:
    """Cancel every queued or running run of the sweep; returns how many."""
    cancelled = 0
    for run_id in sweep.runs:
        run = store.get_run(run_id)
        if run is not None and run.status in ("queued", "running"):
            manager.cancel(run_id)
            cancelled += 1
    return cancelled


def _mean_reward(run_dir) -> float | None:
    records, _ = RunFolder(run_dir).read_metrics()
    rewards = [r["reward"] for r in records if "reward" in r]
    tail = rewards[-REWARD_STEPS:]
    return sum(tail) / len(tail) if tail else None


def sweep_summary(store: Store, sweep: Sweep) -> dict:
    """{"sweep", "grid", "runs": [{"id", "status", "settings", "validation_loss", "reward", "rank"}], "best",
    "ranked_by"}: finished runs ranked by validation loss (lower first), or by mean reward (higher first) when no
    run has a validation loss."""
    rows = []
    for run_id in sweep.runs:
        run = store.get_run(run_id)
        if run is None:
            continue
        options = RunFolder(run.run_dir).spec.recipe_options if set(sweep.grid) - set(run.config) else {}
        settings = {name: run.config[name] if name in run.config else options.get(name) for name in sweep.grid}
        rows.append({"id": run.id, "status": run.status, "settings": settings, "validation_loss": run.eval_loss,
                     "train_loss": run.train_loss, "step": run.step, "reward": _mean_reward(run.run_dir)})
    by_loss = any(row["validation_loss"] is not None for row in rows)
    key, sign = ("validation_loss", 1) if by_loss else ("reward", -1)
    ranked = sorted((row for row in rows if row["status"] == "finished" and row[key] is not None),
                    key=lambda row: sign * row[key])
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    return {"sweep": sweep.id, "grid": sweep.grid, "runs": rows, "best": ranked[0]["id"] if ranked else None,
            "ranked_by": key if ranked else None}
