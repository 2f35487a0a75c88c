"""The CLI's training commands: `train` (a run on a frozen version, in a child process, or a prepared run folder
here) and `runs` (list, import, cancel, resume). Thin over ftstudio.training's RunManager, as the Train tab is."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftstudio.cli.common import (add_json_option, add_project_option, open_studio, print_result, resolve_project,
                                 settings_from)
from ftstudio.cli.train_cloud import add_cloud_arguments, train_on_cloud, train_run_dir_on_processes
from ftstudio.store import StoreError
from ftstudio.training.config import add_train_arguments, recipe_options_from_args, train_config_from_args


def _progress_printer(as_json: bool):
    def show(run) -> None:
        if not as_json:
            total = run.max_steps or "?"
            loss = f" loss {run.train_loss:.4f}" if run.train_loss is not None else ""
            evaluation = f" val {run.eval_loss:.4f}" if run.eval_loss is not None else ""
            print(f"\rrun {run.id} {run.status}: step {run.step}/{total}{loss}{evaluation}   ",
                  end="", file=sys.stderr, flush=True)
    return show


def _rounded(loss: float | None) -> str:
    """A loss for people: 4 significant digits (--json keeps every digit)."""
    return "-" if loss is None else f"{loss:.4g}"


def _run_payload(run) -> dict:
    return {k: getattr(run, k) for k in ("id", "name", "project_name", "version_name", "base_model", "method", "status",
                                         "step", "max_steps", "train_loss", "eval_loss", "error", "run_dir")}


def cmd_train(args) -> int:
    if args.run_dir:
        from ftstudio.training.worker import main as worker_main

        code = train_run_dir_on_processes(args.run_dir)
        return worker_main([args.run_dir]) if code is None else code
    from ftstudio.training.manager import RunManager

    if not args.version:
        raise StoreError("Name --version (a frozen version) and --project, or give --run-dir DIR.")
    settings = settings_from(args)
    store = open_studio(settings)
    project = resolve_project(store, args.project)
    manager = RunManager(store, settings)
    if args.launch == "skypilot":
        def create_run(**options):
            return manager.create_run(project, args.version, train_config_from_args(args), base_model=args.base_model,
                                      options=recipe_options_from_args(args), **options)

        return train_on_cloud(args, manager, project, create_run, _run_payload, _progress_printer(args.json))
    if args.prepare_only:

        run_id = manager.create_run(project, args.version, train_config_from_args(args), check_memory=False,
                                    queue=False, base_model=args.base_model, options=recipe_options_from_args(args))
        run = store.get_run(run_id)
        print_result(_run_payload(run), args.json, f"Prepared {run.run_dir}\n"
                     f"Train it anywhere with: ftstudio train --run-dir {run.run_dir}\n"
                     f"then bring it back with: ftstudio runs import DIR --project {project.name!r}")
        return 0
    run_id = manager.create_run(project, args.version, train_config_from_args(args), base_model=args.base_model,
                                options=recipe_options_from_args(args))
    run = manager.wait(run_id, on_progress=_progress_printer(args.json))
    if not args.json:
        print(file=sys.stderr)
    print_result(_run_payload(run), args.json, f"run {run.id} {run.status}: {run.run_dir}"
                 + (f"\n{run.error}" if run.error else ""))
    return 0 if run.status == "finished" else 1


def cmd_runs(args) -> int:
    from ftstudio.training.manager import RunManager

    settings = settings_from(args)
    store = open_studio(settings)
    manager = RunManager(store, settings)
    if args.action == "import":
        if not args.target:
            raise StoreError("Usage: ftstudio runs import DIR --project NAME")
        run_id = manager.import_run_folder(Path(args.target), resolve_project(store, args.project))
        run = store.get_run(run_id)
        print_result(_run_payload(run), args.json, f"Imported run {run_id} ({run.status}) from {args.target}")
        return 0
    if args.action in ("cancel", "resume"):
        if not (args.target or "").isdigit():
            raise StoreError(f"Usage: ftstudio runs {args.action} RUN_ID")
        manager.reattach()
        if args.action == "cancel":
            manager.cancel(int(args.target))
            run = store.get_run(int(args.target))
            print_result(_run_payload(run), args.json, f"Cancel requested for run {args.target}.")
            return 0
        manager.resume(int(args.target))
        run = manager.wait(int(args.target), on_progress=_progress_printer(args.json))
        print_result(_run_payload(run), args.json, f"\nrun {run.id} {run.status}")
        return 0
    project = resolve_project(store, args.project) if args.project else None
    runs = store.list_runs(project.id if project else None)
    payload = [_run_payload(r) for r in runs]
    lines = [f"{r.id:>4}  {r.status:<11} {r.project_name} / {r.version_name or '-'}  {r.method}  "
             f"step {r.step}/{r.max_steps or '?'}  loss {_rounded(r.train_loss)}  "
             f"val {_rounded(r.eval_loss)}" + (f"\n      {r.error}" if r.error else "")
             for r in runs]
    print_result(payload, args.json, "\n".join(lines) or "No runs yet: `ftstudio train --project P --version V`.")
    return 0


def register(commands) -> None:
    train = commands.add_parser("train", help="Train a LoRA/QLoRA adapter, an encoder classifier or the feature "
                                "baseline on a frozen dataset version.",
                                description="Train on a frozen version in a child process and wait for it; or run a "
                                "prepared run folder on this machine with --run-dir. The recipe follows the base "
                                "model's family: causal LMs write text (SFT, DPO); encoders (BERT, MiniLM: "
                                "embedded:all-MiniLM-L6-v2) classify (lora, full, or --method features for the "
                                "feature baseline); encoder-decoders (T5) turn text into text.")
    train.add_argument("--base-model", default=argparse.SUPPRESS,
                       help="Base model for this run (as the global --base-model): its family picks the recipe.")
    add_project_option(train)
    train.add_argument("--version", help="Frozen dataset version to train on.")
    train.add_argument("--run-dir", help="Run a prepared run folder here (no database needed).")
    train.add_argument("--prepare-only", action="store_true", help="Write the run folder and stop, to train elsewhere.")
    add_json_option(train)
    add_cloud_arguments(train)
    add_train_arguments(train)
    train.set_defaults(func=cmd_train)

    runs = commands.add_parser("runs", help="List, import, cancel or resume training runs.",
                               description="ftstudio runs [list] | runs import DIR --project P | runs cancel ID | "
                               "runs resume ID")
    runs.add_argument("action", nargs="?", default="list", choices=["list", "import", "cancel", "resume"],
                      help="What to do (default: list).")
    runs.add_argument("target", nargs="?", help="A run folder (import) or a run id (cancel, resume).")
    runs.add_argument("--project", help="Project name: list its runs only; the project a folder is imported into "
                      "(default: the studio's only project).")
    add_json_option(runs)
    runs.set_defaults(func=cmd_runs)
