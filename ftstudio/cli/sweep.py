"""The CLI's `sweep`: a grid of run settings trained one run after another, then ranked (thin over
ftstudio.training.sweep, as the Train tab's Sweep panel is)."""

from __future__ import annotations

import sys

from ftstudio.cli.common import add_json_option, add_project_option, open_studio, print_result, resolve_project, \
    settings_from
from ftstudio.store import StoreError
from ftstudio.training.config import recipe_options_from_args, train_config_from_args


def _table(summary: dict) -> str:
    lines = [f"sweep {summary['sweep']}: " + (f"ranked by {summary['ranked_by'].replace('_', ' ')}, best run "
                                             f"{summary['best']}" if summary["best"] else "nothing finished yet")]
    for row in sorted(summary["runs"], key=lambda r: r.get("rank") or 1e9):
        settings = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["settings"].items())
        figure = (f"val {row['validation_loss']:.4g}" if row["validation_loss"] is not None else
                  f"reward {row['reward']:.3g}" if row["reward"] is not None else "-")
        lines.append(f"  {row.get('rank', '-')!s:>3}  run {row['id']:<4} {row['status']:<10} {settings}  {figure}")
    return "\n".join(lines)


def cmd_sweep(args) -> int:
    from ftstudio.training.manager import RunManager
    from ftstudio.training.sweep import cancel_sweep, find_sweep, parse_grid, start_sweep, sweep_summary

    settings = settings_from(args)
    store = open_studio(settings)
    project = resolve_project(store, args.project)
    manager = RunManager(store, settings)
    if args.cancel is not None or args.show is not None:
        manager.reattach()
        sweep = find_sweep(store, project, (args.cancel if args.cancel is not None else args.show) or None)
        if args.cancel is not None:
            count = cancel_sweep(store, manager, sweep)
            print(f"Cancelled {count} run(s) of sweep {sweep.id}.", file=sys.stderr)
        summary = sweep_summary(store, sweep)
        print_result(summary, args.json, _table(summary))
        return 0
    if not args.version or not args.grid:
        raise StoreError("Name --version and --grid (e.g. --grid learning_rate=1e-4,3e-4 r=8,16).")
    config = train_config_from_args(args)
    sweep = start_sweep(store, manager, project, args.version, config, parse_grid(args.grid),
                        recipe_options_from_args(args))
    for run_id in sweep.runs:  # the queue runs them one after another; wait for each in turn
        run = manager.wait(run_id)
        if not args.json:
            print(f"run {run.id} {run.status}", file=sys.stderr)
    summary = sweep_summary(store, sweep)
    print_result(summary, args.json, _table(summary))
    return 0 if summary["best"] is not None else 1


def register(commands) -> None:
    from ftstudio.training.config import add_train_arguments

    sweep = commands.add_parser("sweep", help="Train a grid of run settings one after another and rank the runs.",
                                description="Queue one run per combination of the grid's values on a frozen version, "
                                "wait for them, and rank them by validation loss (or by mean reward for GRPO). "
                                "Other run settings as for `ftstudio train`. --show [ID] and --cancel [ID] act on "
                                "the newest sweep, or the one named.")
    add_project_option(sweep)
    sweep.add_argument("--version", help="Frozen dataset version to train on.")
    sweep.add_argument("--grid", nargs="+", metavar="SETTING=V1,V2", help="Settings and their values, e.g. "
                       "learning_rate=1e-4,3e-4 r=8,16 (any run setting or recipe option).")
    sweep.add_argument("--show", type=int, nargs="?", const=0, default=None, metavar="ID",
                       help="Print a sweep's runs, ranked (default: the newest).")
    sweep.add_argument("--cancel", type=int, nargs="?", const=0, default=None, metavar="ID",
                       help="Cancel a sweep's queued and running runs (default: the newest).")
    add_json_option(sweep, "Print {sweep, grid, runs: [{id, status, settings, validation_loss, reward, rank}], "
                           "best, ranked_by}.")
    add_train_arguments(sweep)
    sweep.set_defaults(func=cmd_sweep)
