"""Experiment tracking through transformers' `report_to`: trackio (local first: a folder under the studio, a Space
only when the user pushes it), MLflow or Weights & Biases when installed and configured. Off by default; a run's
own setting wins over the studio's. Nothing leaves the machine unless the user configured a tracker to send it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ftstudio.run_folder import RunFolder
from ftstudio.training.prepare import RunError

# The package each tracker needs (transformers' integration checks the same).
PACKAGES = {"trackio": "trackio", "mlflow": "mlflow", "wandb": "wandb"}
TRACKING_DIR = "trackio"


def trackers(report_to: str) -> list[str]:
    """"trackio, mlflow" -> ["trackio", "mlflow"]; "none" or empty -> []."""
    names = [name for name in (report_to or "").replace(" ", "").split(",") if name]
    return [] if "none" in names else names


def resolve_report_to(run_setting: str, studio_setting: str) -> str:
    """The run's own setting, else the studio's; checked that each tracker is installed here."""
    chosen = run_setting or studio_setting or ""
    missing = [name for name in trackers(chosen) if importlib.util.find_spec(PACKAGES.get(name, name)) is None]
    if missing:
        raise RunError(f"This run reports to {', '.join(missing)}, which is not installed: `pip install "
                       f"{' '.join(PACKAGES.get(name, name) for name in missing)}`, or set report to none.")
    return chosen


def tracking_dir(studio_home: Path) -> Path:
    """Where trackio keeps its local database for this studio."""
    return Path(studio_home) / TRACKING_DIR


def tracking_arguments(run_dir: Path, report_to: str, project_name: str, trackio_dir: str | None) -> dict:
    """TrainingArguments' report_to, run name and project; trackio writes under the studio (TRACKIO_DIR)."""
    names = trackers(report_to)
    if "trackio" in names and trackio_dir and not os.environ.get("TRACKIO_DIR"):
        os.environ["TRACKIO_DIR"] = str(trackio_dir)  # this training child's own environment
    return {"report_to": names, "run_name": Path(run_dir).name, "project": f"ftstudio-{project_name}"}


def run_tracking(run_dir: Path, config) -> dict:
    """The tracking part of a run's TrainingArguments, from its config and run spec (in the training child)."""
    if not trackers(config.report_to):
        return {"report_to": []}
    spec = RunFolder(run_dir).spec
    return tracking_arguments(run_dir, config.report_to, (spec.project or {}).get("name", "runs"),
                              spec.extra.get("tracking_dir"))
