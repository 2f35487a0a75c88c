"""The CLI's `samples` command: list the bundled sample projects, or load them, over the same function as the Data
tab's "Load sample data" (ftstudio.samples)."""

from __future__ import annotations

import sys

from ftstudio.cli.common import add_json_option, open_studio, print_result, settings_from
from ftstudio.samples import SAMPLE_PROJECTS, find_samples, load_sample_projects


def cmd_samples(args) -> int:
    if args.action == "list":
        if args.names:
            raise ValueError("`ftstudio samples` lists them all; load some with `ftstudio samples load NAME`.")
        payload = [{"key": s.key, "name": s.name, "task_type": s.task_type, "labels": list(s.labels or []),
                    "description": s.description, "paths": list(s.paths)} for s in SAMPLE_PROJECTS]
        print_result(payload, args.json, "\n".join(f"{s.key:<8} {s.name} ({s.task_type}): {s.description}"
                                                   for s in SAMPLE_PROJECTS)
                     + "\nLoad them with `ftstudio samples load [NAME ...|all]`.")
        return 0
    find_samples(args.names)  # an unknown name is refused before the studio is opened
    settings = settings_from(args)
    store = open_studio(settings)

    def progress(fraction: float, message: str) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\r{fraction:5.0%}  {message}", end="", file=sys.stderr, flush=True)

    reports = load_sample_projects(store, settings, progress, names=args.names)
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    lines = [line for report in reports
             for line in [report.summary()] + [f"  skipped {e.source}: {e.reason}" for e in report.errors]]
    print_result([report.to_dict() for report in reports], args.json, "\n".join(lines))
    return 0


def register(commands) -> None:
    samples = commands.add_parser("samples", help="List or load the bundled sample projects.",
                                  description="ftstudio samples [list] | samples load [NAME ...|all]: the sample "
                                  "projects the Data tab's \"Load sample data\" loads, by their short names. Loading "
                                  "twice only finds duplicates.")
    samples.add_argument("action", nargs="?", default="list", choices=["list", "load"],
                         help="What to do (default: list).")
    samples.add_argument("names", nargs="*", metavar="NAME",
                         help=f"Samples to load: {', '.join(s.key for s in SAMPLE_PROJECTS)} or all (default: all).")
    add_json_option(samples)
    samples.set_defaults(func=cmd_samples)
