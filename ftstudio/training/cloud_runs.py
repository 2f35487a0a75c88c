"""Start a run that trains on a cloud GPU (the Train tab's "Run on: a cloud GPU" and `ftstudio train --launch
skypilot`): the run folder is prepared as for any run, marked with its launch settings, and queued; the manager
then starts the cloud worker (training/cloud_worker.py) in place of the local training child."""

from __future__ import annotations

from pathlib import Path

from ftstudio.training.config import TrainConfig
from ftstudio.training.manager import RunManager
from ftstudio.training.skypilot import CloudLaunch, write_launch


def start_cloud_run(manager: RunManager, project, version_name: str, config: TrainConfig, launch: CloudLaunch,
                    user_name: str | None = None, base_model: str | None = None, options: dict | None = None) -> int:
    """Prepare the run, mark it to train on `launch`'s cloud GPU and queue it; returns the run id. Its memory is
    the cloud GPU's business, not this machine's, so it is not checked here."""
    launch.check()
    run_id = manager.create_run(project, version_name, config, user_name=user_name, base_model=base_model,
                                check_memory=False, queue=False, options=options)
    write_launch(Path(manager.store.get_run(run_id).run_dir), launch)
    manager.queue(run_id)
    return run_id
