"""What every command module shares: settings from the global flags, the studio's store, finding a project or a
run by name, the --json and --project options, printing results and progress."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ftstudio.config import Settings
from ftstudio.store import StoreError


def settings_from(args) -> Settings:
    """The studio settings, with the global --home and --base-model applied."""
    settings = Settings()
    if getattr(args, "home", None):
        settings.home = Path(args.home)
    if getattr(args, "base_model", None):
        settings.base_model = args.base_model
    return settings


def open_studio(settings: Settings):
    """The studio's store, its folders made first (the CLI writes only when no app runs)."""
    from ftstudio.store import open_store

    settings.ensure_dirs()
    return open_store(settings.database_path)


def parse_labels(text: str | None) -> list[str] | None:
    """Comma-separated labels as a list; None when there are none."""
    return [label.strip() for label in (text or "").split(",") if label.strip()] or None


def known_projects(store) -> str:
    """The studio's project names, quoted, for a message."""
    return ", ".join(repr(p.name) for p in store.list_projects()) or "none yet"


def resolve_project(store, name: str | None):
    """The project called NAME; without a name, the studio's only project (there is no guessing among several)."""
    if name:
        project = store.find_project(name)
        if project is None:
            raise StoreError(f"No project named {name!r} (projects: {known_projects(store)}). "
                             "Import into it to create it.")
        return project
    projects = store.list_projects()
    if len(projects) == 1:
        return projects[0]
    if not projects:
        raise StoreError("This studio has no projects yet: `ftstudio import PATH --project NAME` creates one, "
                         "`ftstudio samples load` loads the sample projects.")
    raise StoreError(f"This studio has {len(projects)} projects ({known_projects(store)}): "
                     "name one with --project NAME.")


def find_run(store, reference: str):
    """A run by id or folder name, or a message listing the runs there are."""
    run = store.find_run(reference)
    if run is None:
        known = ", ".join(f"{r.id}" for r in store.list_runs()[:10]) or "none yet"
        raise StoreError(f"No run {reference!r} (runs: {known}). `ftstudio runs` lists them.")
    return run


def print_result(payload, as_json: bool, text: str) -> None:
    """Print the payload as JSON with --json, else the text for people."""
    print(json.dumps(payload, indent=2, default=str, ensure_ascii=False) if as_json else text)


def progress_bar(done: int, total: int, what: str = "outputs") -> None:
    """A one-line progress bar on a terminal's standard error (nothing when it is not a terminal)."""
    if sys.stderr.isatty() and total:
        filled = round(30 * done / total)
        print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {what}", end="", file=sys.stderr, flush=True)


def add_json_option(parser, help: str = "Print JSON.") -> None:
    """The --json flag every command that prints a result takes."""
    parser.add_argument("--json", action="store_true", help=help)


def add_project_option(parser, help: str = "Project name") -> None:
    """The --project option, which may be left out when the studio has one project."""
    parser.add_argument("--project", help=f"{help} (default: the studio's only project).")
