"""What a DPO run folder is made of, on the app side: the preference pairs, the run it starts from (its adapter
copied into the folder, so the folder trains anywhere), and the version whose test prompts prove it better."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ftstudio.run_folder import RunFolder
from ftstudio.store import Project, Run, Store, Version
from ftstudio.training.config import TrainConfig
from ftstudio.training.prepare import RunError


@dataclass
class DpoPlan:
    split_rows: dict[str, list[dict]]
    start_run: Run | None
    evaluation_version_id: int | None
    template: dict

    def extra(self) -> dict:
        """What the run spec records beyond an SFT run's."""
        return {"start_run": self.start_run.id if self.start_run else None,
                "evaluation_version_id": self.evaluation_version_id}


def check_objective(version: Version, config: TrainConfig) -> None:
    """SFT trains on input/output pairs, DPO on preference pairs, CPT on raw text: say so when they are mixed up."""
    if version.is_text != (config.objective == "cpt"):
        raise RunError(f"Version {version.name} holds raw text: train it with continued pre-training (objective "
                       "cpt), then start an SFT run from that run." if version.is_text else
                       f"Version {version.name} is not a text version: continued pre-training (cpt) trains on raw "
                       "text. Freeze one with `ftstudio freeze --kind text` (or the Datasets tab's raw text).")
    if version.is_preferences and not config.is_dpo:
        raise RunError(f"Version {version.name} holds preference pairs (prompt, chosen, rejected): train it with "
                       "DPO (objective dpo), not SFT.")
    if config.is_dpo and not version.is_preferences:
        raise RunError(f"Version {version.name} holds input/output pairs: DPO trains on preference pairs. Freeze "
                       "a preference version from review votes on the Datasets tab (or `ftstudio "
                       "preferences --freeze`), or train this one with SFT.")


def start_run(store: Store, project: Project, config: TrainConfig) -> Run | None:
    if not config.from_run:
        return None
    run = store.get_run(config.from_run)
    if run is None or run.project_id != project.id:
        raise RunError(f"{project.name} has no run {config.from_run} to start from.")
    if run.status != "finished" or not RunFolder(run.run_dir).has_adapter():
        raise RunError(f"Run {run.id} is {run.status} and has no adapter yet: start from a finished run.")
    return run


def _evaluation_version(store: Store, version: Version, start: Run | None) -> int | None:
    """The SFT version whose test split the loop reviews on: the starting run's, else the one most pairs came from."""
    if start is not None and start.version_id is not None:
        return start.version_id
    runs = Counter()
    for row in store.preference_rows(version.id):
        review = store.get_review((row.detail or {}).get("review")) if (row.detail or {}).get("review") else None
        if review is not None and review.run_id is not None:
            runs[review.run_id] += 1
    for run_id, _ in runs.most_common():
        run = store.get_run(run_id)
        if run is not None and run.version_id is not None:
            return run.version_id
    return None


def plan_dpo_run(store: Store, project: Project, version: Version, config: TrainConfig) -> DpoPlan:
    start = start_run(store, project, config)
    split_rows: dict[str, list[dict]] = {}
    for row in store.preference_rows(version.id):
        if row.split == "test":
            continue
        values = {key: getattr(row, key) for key in ("prompt", "chosen", "rejected")}
        if row.conversational:
            values = {key: json.loads(value) for key, value in values.items()}
        split_rows.setdefault(row.split, []).append(values)
    evaluation = _evaluation_version(store, version, start)
    template = version.template
    if start is not None:  # the prompts of its review were rendered with its template
        template = RunFolder(start.run_dir).spec.template or template
    elif evaluation is not None and (source := store.get_version(evaluation)) is not None:
        template = source.template or template
    return DpoPlan(split_rows, start, evaluation, template)


def copy_adapter_of(run: Run | None, run_dir: Path) -> None:
    """Copy the adapter of the run a new run starts from into its folder (start_adapter/), so it trains anywhere."""
    if run is not None:
        shutil.copytree(RunFolder(run.run_dir).adapter_dir, RunFolder(run_dir).start_adapter_dir)
