"""The `ftstudio` command line: thin commands over the same functions the browser app calls.

Each command group is a module of this package with a `register(commands)` that adds its commands;
common.py holds what they share."""

from __future__ import annotations

import argparse
import sys

from ftstudio.cli import (bench, data, doctor, judge, preferences, review, samples, serve, serving, shipping,
                          snapshots, sweep, systems, train, users, versions)
from ftstudio.evaluation.jobs import GenerationError
from ftstudio.models import ModelError
from ftstudio.store import StoreError

# In the order `ftstudio --help` lists their commands.
COMMAND_GROUPS = (serve, samples, data, versions, train, sweep, shipping, serving, review, systems, judge,
                  preferences, users, snapshots, doctor, bench)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, each group registered by its own module."""
    parser = argparse.ArgumentParser(prog="ftstudio", description="Fine-tune language models on your own posts and emails.")
    parser.add_argument("--home", help="Studio folder (default: $FTSTUDIO_HOME or ./ftstudio-data).")
    parser.add_argument("--base-model", help="Base model: embedded:SmolLM2-135M-Instruct, a folder, a .gguf file or a Hub id.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a problem the user can act on is one line on standard error and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (StoreError, ValueError, OSError, ModelError, GenerationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
