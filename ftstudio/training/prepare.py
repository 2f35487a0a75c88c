"""Prepare a run folder from a frozen dataset version: settings, data and provenance, before any training."""

from __future__ import annotations

import platform
import re
import time
from importlib import metadata
from pathlib import Path

from ftstudio.run_folder import RunFolder, RunSpec
from ftstudio.training.config import TrainConfig
from ftstudio.training.distributed import global_batch

LIBRARIES = ("torch", "transformers", "peft", "trl", "accelerate", "bitsandbytes", "datasets", "ftstudio")


class RunError(ValueError):
    """A run that cannot start, with the reason and what to do."""


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def new_run_folder(runs_dir: Path, project_name: str, version_name: str) -> Path:
    """Create and return an empty, unused run folder named by the time, the project and the version.

    Two runs started within the same second (a queue of runs, two users) get `-2`, `-3`, ...: mkdir is the
    claim, so two processes never share a folder.
    """
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{project_name}-{version_name}").strip("-").lower()[:48]
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        folder = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RunError(f"Could not find a free run folder name under {runs_dir} for {base}.")


def write_run_folder(run_dir: Path, config: TrainConfig, base_model: str, base_model_path: str,
                     version, split_rows: dict[str, list[dict]], project: dict, extra: dict | None = None,
                     splits: tuple[str, ...] = ("train", "validation")) -> Path:
    """Write the run spec (RunSpec) and data/*.jsonl (prompt/completion, prompt/chosen/rejected for DPO, text/label for
    classifiers) into a new, empty run folder; `extra` adds to the spec (the recipe, a DPO run's starting point and
    evaluation version, a classifier's labels)."""
    config.check()
    if not split_rows.get("train"):
        raise RunError(f"Version {version.name} has no training examples: freeze a version with a train split.")
    run_dir.mkdir(parents=True, exist_ok=True)
    if any(run_dir.iterdir()):
        raise RunError(f"{run_dir} is not empty: a run folder is written once.")
    folder = RunFolder(run_dir)
    folder.data_dir.mkdir()
    for split in splits:
        rows = split_rows.get(split) or []
        if rows:
            folder.write_split(split, rows)
    folder.write_spec(RunSpec.from_dict({
        "config": config.to_dict(),
        "base_model": base_model,
        "base_model_path": base_model_path,
        "project": project,
        "dataset_version": version if isinstance(version, dict) else
        {k: getattr(version, k) for k in ("name", "content_hash", "counts", "template")},
        "libraries": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "world_size": config.processes,
        "global_batch": global_batch(config),
        **(extra or {}),
    }))
    return run_dir
