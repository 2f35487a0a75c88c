"""The CLI's `snapshot` and `restore` commands, over ftstudio.snapshots (the app takes them on its own too)."""

from __future__ import annotations

import sys

from ftstudio.cli.common import open_studio, print_result, settings_from
from ftstudio.snapshots import restore_latest, take_snapshot, target_from_spec


def _target(args, settings):
    target = target_from_spec(args.target or settings.snapshot_target)
    if target is None:
        print("error: say where: --target FOLDER or hf://datasets/OWNER/NAME, or set FTSTUDIO_SNAPSHOT_TARGET.",
              file=sys.stderr)
    return target


def cmd_snapshot(args) -> int:
    settings = settings_from(args)
    target = _target(args, settings)
    if target is None:
        return 2
    store = open_studio(settings)
    try:
        name = take_snapshot(store, settings, target)
    finally:
        store.close()
    print_result({"snapshot": name}, args.json, f"Snapshot {name} written.")
    return 0


def cmd_restore(args) -> int:
    settings = settings_from(args)
    target = _target(args, settings)
    if target is None:
        return 2
    if settings.database_path.exists():
        print(f"error: {settings.database_path} exists: restore only fills an empty studio (move it away first).",
              file=sys.stderr)
        return 2
    name = restore_latest(settings, target)
    print_result({"restored": name}, args.json, f"Restored snapshot {name}." if name else "No complete snapshot found.")
    return 0 if name else 1


def register(commands) -> None:
    for name, func, text in (("snapshot", cmd_snapshot, "Copy the studio (database and run folders) to a target."),
                             ("restore", cmd_restore, "Fill an empty studio from the newest complete snapshot.")):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--target", help="A folder, or hf://datasets/OWNER/NAME (default: "
                                              "$FTSTUDIO_SNAPSHOT_TARGET).")
        command.add_argument("--json", action="store_true", help="Print JSON.")
        command.set_defaults(func=func)
