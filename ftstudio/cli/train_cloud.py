"""`ftstudio train ... --launch skypilot --gpus L4:1 [--cloud NAME] [--dry-run TASK.yaml]`, and `--run-dir` of a
run folder that trains on several processes. Thin over training/skypilot.py and the RunManager."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ftstudio.cli.common import print_result
from ftstudio.training.skypilot import DEFAULT_AUTOSTOP_MINUTES, CloudLaunch, hourly_cost, write_launch, write_task


def add_cloud_arguments(parser) -> None:
    group = parser.add_argument_group("where it trains")
    group.add_argument("--launch", choices=["local", "skypilot"], default="local",
                       help="local: this machine (default); skypilot: a cloud GPU found by SkyPilot (pip install "
                            "skypilot[CLOUD] and `sky check` first).")
    group.add_argument("--gpus", default="L4:1", help="skypilot: the GPUs, NAME:COUNT (L4:1, A100:2; with a count above 1 set --processes to "
                            "it, one process per GPU). [L4:1]")
    group.add_argument("--cloud", help="skypilot: aws, gcp, azure, lambda, runpod, kubernetes, ... (default: the "
                                       "cheapest that `sky check` enables).")
    group.add_argument("--autostop", type=int, default=DEFAULT_AUTOSTOP_MINUTES,
                       help=f"skypilot: idle minutes before the cluster is taken down; 0 never. "
                            f"[{DEFAULT_AUTOSTOP_MINUTES}]")
    group.add_argument("--install", help="skypilot: the command that installs ftstudio on the cluster (default: "
                                         "this studio's own source, copied up).")
    group.add_argument("--dry-run", metavar="TASK.yaml",
                       help="skypilot: write the SkyPilot task here (and its source folder beside it) and launch "
                            "nothing; `sky launch TASK.yaml` runs it.")


def train_on_cloud(args, manager, project, create_run, payload, progress) -> int:
    """Prepare the run, then write its SkyPilot task (--dry-run) or queue it to train on a cloud GPU and wait."""
    from ftstudio.training.skypilot import stage_source, source_root

    launch = CloudLaunch(gpus=args.gpus, cloud=args.cloud, autostop_minutes=args.autostop, install=args.install)
    launch.check()
    run_id = create_run(check_memory=False, queue=False)  # it fits the cloud GPU's memory, not this machine's
    run = manager.store.get_run(run_id)
    if args.dry_run:  # launches nothing and asks nobody (the price needs SkyPilot's catalog: `sky show-gpus`)
        task_path = Path(args.dry_run).resolve()
        source = None
        if not args.install and source_root() is not None:
            source = stage_source(task_path.with_name(task_path.stem + "-src"))
        write_task(Path(run.run_dir), launch, task_path, source)
        print_result({**payload(run), "task": str(task_path)}, args.json,
                     f"Prepared {run.run_dir}\nWrote the SkyPilot task {task_path} (nothing launched): "
                     f"`sky launch {task_path}` runs it; `sky show-gpus {args.gpus.split(':')[0]}` lists prices.")
        return 0
    cost = hourly_cost(args.gpus, args.cloud)
    price = {"cost_per_hour": cost[0], "offer": cost[1]} if cost else {"cost_per_hour": None}
    if cost:
        print(f"{args.gpus}: about ${cost[0]:.2f}/hour ({cost[1]})", file=sys.stderr)
    write_launch(Path(run.run_dir), launch)
    manager.queue(run_id)  # as training/cloud_runs.start_cloud_run, which the Train tab calls
    run = manager.wait(run_id, on_progress=progress)
    print_result({**payload(run), **price}, args.json, f"\nrun {run.id} {run.status} on {args.gpus}: {run.run_dir}"
                 + (f"\n{run.error}" if run.error else ""))
    return 0 if run.status == "finished" else 1


def train_run_dir_on_processes(run_dir: str) -> int | None:
    """`--run-dir` of a folder set to several processes: accelerate launches them here; None for one process."""
    from ftstudio.run_folder import RunFolder
    from ftstudio.training.config import TrainConfig
    from ftstudio.training.distributed import check_launch, is_distributed, write_accelerate_config
    from ftstudio.training.manager import worker_command

    config = TrainConfig.from_dict(RunFolder(run_dir).spec.config)
    if not is_distributed(config):
        return None
    check_launch(config)
    command = worker_command(Path(run_dir).resolve(), str(write_accelerate_config(Path(run_dir), config)))
    return subprocess.run(command, stdout=sys.stdout, stderr=sys.stderr).returncode
