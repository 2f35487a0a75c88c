"""The names of the systems a review compares, and the error every evaluation step raises.

A system is named `base` (the base model), `reference` (the data's own output) or `run-ID` (a run's adapter). The
run names are spelled by the store (a run knows its own system name, and the store may not import evaluation);
this module is where the rest of the studio gets them all.
"""

from __future__ import annotations

from ftstudio.store import Run
from ftstudio.store.runs import run_system_name

BASE = "base"
REFERENCE = "reference"
BASE_LABEL = "base model"
REFERENCE_LABEL = "reference (the data's own output)"

__all__ = ["BASE", "REFERENCE", "BASE_LABEL", "REFERENCE_LABEL", "EvaluationError", "run_system_name", "run_label",
           "system_names"]


class EvaluationError(ValueError):
    """A generation or review that cannot go ahead, with what to do."""


def run_label(run: Run) -> str:
    """A run as people read it among systems: its id, method and version."""
    return f"run {run.id} ({run.method} on {run.version_name or 'an imported version'})"


def system_names(text: str | None) -> list[str] | None:
    """Systems typed as a comma-separated list, where a bare run id (`3`) means that run (`run-3`)."""
    if not text:
        return None
    parts = (part.strip() for part in text.split(","))
    return [run_system_name(int(name)) if name.isdigit() else name for name in parts if name]
