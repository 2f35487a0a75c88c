"""The child that trains a run folder on a cloud GPU: `python -m ftstudio.training.cloud_worker RUN_DIR`.

To the app it is a training child like any other (training/manager.py starts, polls, cancels and re-attaches it
by its folder): it launches the SkyPilot task (training/skypilot.py), follows the job with sky's API, and copies
the remote run folder back into this one on every poll, so metrics.jsonl (the curve), status.json, checkpoints and
finally the adapter arrive where the app reads them; the finished folder is then the run, as `runs import` would
make it. Cancel asks the remote run to stop at its next step (it saves a checkpoint), brings the folder back and
takes the cluster down; a SIGTERM takes it down at once. Nothing in the test suite runs this: it needs a cloud.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ftstudio.child_process import CANCEL_FILE, LOG_FILE
from ftstudio.run_folder import RunFolder
from ftstudio.training.skypilot import (LAUNCH_FILE, TASK_FILE, build_task, read_launch, remote_run_dir, source_root,
                                        stage_source)

POLL_SECONDS = 20
CANCEL_DEADLINE_SECONDS = 300
# Files that belong to this side only: the app's CANCEL request, the launch settings, this child's own log.
LOCAL_ONLY = (CANCEL_FILE, LAUNCH_FILE, LOG_FILE, TASK_FILE)


def say(message: str) -> None:
    print(f"[ftstudio cloud] {message}", flush=True)


def pull(cluster: str, run_dir: Path) -> bool:
    """Copy the remote run folder over this one through the SSH alias SkyPilot writes for every cluster
    (rsync: only what changed travels, so polling the curve is cheap)."""
    excludes = [f"--exclude={name}" for name in LOCAL_ONLY]
    command = ["rsync", "-az", *excludes, f"{cluster}:{remote_run_dir(run_dir)}/", f"{run_dir}/"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode:
        say(f"syncing the run folder back failed (will retry): {result.stderr.strip()[-400:]}")
    return result.returncode == 0


def ask_remote_to_stop(cluster: str, run_dir: Path) -> None:
    """The remote run's own CANCEL file: it saves a checkpoint at its next step and stops."""
    subprocess.run(["ssh", cluster, f"touch {remote_run_dir(run_dir)}/CANCEL"], capture_output=True, timeout=120)


def launch_task(sky, run_dir: Path, launch) -> int:
    """Start (or reuse) the cluster and submit the run; returns the job id. The run folder goes up as it is here,
    checkpoints included, so a resumed run continues from its newest complete checkpoint."""
    staged = None
    try:
        if not launch.install and source_root() is not None:
            staged = stage_source(Path(tempfile.mkdtemp(prefix="ftstudio-src-")) / "src")
        task = sky.Task.from_yaml_config(build_task(run_dir, launch, staged))
        request = sky.launch(task, cluster_name=launch.cluster,
                             idle_minutes_to_autostop=launch.autostop_minutes or None, down=True)
        job_id, _handle = sky.stream_and_get(request)  # sky's progress goes to worker.log
        return job_id
    finally:
        if staged is not None:
            shutil.rmtree(staged.parent, ignore_errors=True)


def follow(sky, run_dir: Path, cluster: str, job_id: int) -> str:
    """Poll the job until it ends, syncing the folder back; returns how it ended (SUCCEEDED, FAILED, CANCELLED)."""
    folder = RunFolder(run_dir)
    cancel_asked = None
    while True:
        statuses = sky.get(sky.job_status(cluster, [job_id]))
        status = statuses.get(job_id) if statuses else None
        pull(cluster, run_dir)
        if status is not None and status.is_terminal():
            return status.value
        if folder.cancel_requested() and cancel_asked is None:
            say("cancel requested: asking the remote run to stop at its next step")
            ask_remote_to_stop(cluster, run_dir)
            cancel_asked = time.monotonic()
        if cancel_asked and time.monotonic() - cancel_asked > CANCEL_DEADLINE_SECONDS:
            return "CANCELLED"
        time.sleep(POLL_SECONDS)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ftstudio.training.cloud_worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0]).resolve()
    folder = RunFolder(run_dir)
    launch = read_launch(run_dir)
    try:
        import sky
    except ImportError:
        folder.write_status("failed", error="SkyPilot is not installed where the studio runs: pip install "
                                            "'skypilot[aws]' (or [gcp], [kubernetes], ...), run `sky check`, then "
                                            "resume the run.")
        return 1
    cluster = launch.cluster

    def take_down(*_):
        say(f"taking the cluster {cluster} down")
        sky.get(sky.down(cluster))
        folder.write_status("cancelled", error=None)
        sys.exit(0)

    signal.signal(signal.SIGTERM, take_down)  # the app's hard cancel: the cluster must not outlive it
    folder.write_status("running", step=0, cluster=cluster)
    try:
        job_id = launch_task(sky, run_dir, launch)
        say(f"job {job_id} on {cluster}")
        ended = follow(sky, run_dir, cluster, job_id)
        pull(cluster, run_dir)
    except Exception as error:  # the app shows it; the cluster must not be left billing
        folder.write_status("failed", error=f"The cloud run failed: {type(error).__name__}: {error}")
        sky.get(sky.down(cluster))
        return 1
    sky.get(sky.down(cluster))
    state = folder.read_status().get("state")
    if ended == "CANCELLED" or folder.cancel_requested():
        folder.write_status("cancelled", step=folder.read_status().get("step", 0))
    elif ended != "SUCCEEDED" and state != "failed":
        folder.write_status("failed", error=f"The cloud job ended {ended}: see worker.log (and `sky logs {cluster}`"
                                            " while the cluster is up).")
    return 0 if ended == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
