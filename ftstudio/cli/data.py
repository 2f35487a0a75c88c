"""The CLI's data commands: `import`, `items`, `item`, `projects`, `label` (the Label tab's queue in the terminal)
and `agreement`. Thin over ftstudio.importing, ftstudio.labeling and the store, as the Data and Label tabs are."""

from __future__ import annotations

import sys
from dataclasses import asdict, fields
from pathlib import Path

from ftstudio.cli.common import (add_json_option, add_project_option, open_studio, parse_labels, print_result,
                                 resolve_project, settings_from)
from ftstudio.ingest.records import ColumnMapping
from ftstudio.pii import MASKERS
from ftstudio.store import ENGAGEMENT_FIELDS, ITEM_SORTS, TASK_TYPES, StoreError

# The project `ftstudio import PATH` creates in a studio that has none yet.
DEFAULT_PROJECT = "default"


def _parse_mapping(pairs: list[str]) -> ColumnMapping | None:
    if not pairs:
        return None
    allowed = {f.name for f in fields(ColumnMapping)}
    values = {}
    for pair in pairs:
        key, sep, column = pair.partition("=")
        if not sep or key not in allowed:
            raise SystemExit(f"--map takes FIELD=COLUMN with FIELD one of {', '.join(sorted(allowed))}; got {pair!r}.")
        values[key] = column
    return ColumnMapping(**values)


def _import_project(store, args, settings, mapping: ColumnMapping | None):
    """The project to import into, the one named (created when missing) or else the studio's only one, and the
    labels a new classification project took from the files."""
    from ftstudio.importing import create_import_project

    if args.project is None and store.list_projects():
        return resolve_project(store, None), []
    name = args.project or DEFAULT_PROJECT
    existing = store.find_project(name)
    if existing is not None:
        return existing, []
    return create_import_project(store, name, args.task, parse_labels(args.labels), args.paths, settings.ingest,
                                 mapping)


def _json_schema(path: str | None) -> dict | None:
    """The JSON Schema in a file (--json-schema), checked to be a schema, or None."""
    if not path:
        return None
    import json

    import jsonschema

    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except FileNotFoundError:
        raise StoreError(f"No JSON Schema file {path}: give the path of a .json file.") from None
    except (json.JSONDecodeError, jsonschema.SchemaError, TypeError) as error:
        raise StoreError(f"{path} is not a JSON Schema ({str(error).splitlines()[0]}): fix it and try again.") from None
    return schema


def cmd_import(args) -> int:
    from ftstudio.importing import ImportOptions, import_paths

    settings = settings_from(args)
    mask = tuple(m for m in (args.mask_pii or "").split(",") if m)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise StoreError(f"Not found: {', '.join(missing)}. Nothing was imported.")
    mapping = _parse_mapping(args.map)
    schema = _json_schema(args.json_schema)  # read before anything is created: a bad file changes nothing
    store = open_studio(settings)
    project, labels_from_file = _import_project(store, args, settings, mapping)
    if schema is not None:  # the structured project's schema: what outputs must validate against (and GRPO's reward)
        project = store.update_project(project.id, json_schema=schema)

    def progress(fraction: float, message: str) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\r{fraction:5.0%}  {message}", end="", file=sys.stderr, flush=True)

    report = import_paths(store, project, args.paths, settings.ingest,
                          ImportOptions(mask_pii=mask, mapping=mapping, split_forwarded=args.split_forwarded),
                          progress)
    report.labels_from_file = labels_from_file
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    lines = [report.summary()] + [f"  skipped {e.source}: {e.reason}" for e in report.errors]
    print_result(report.to_dict(), args.json, "\n".join(lines))
    return 0


def cmd_items(args) -> int:
    store = open_studio(settings_from(args))
    project = resolve_project(store, args.project)
    at_least = {}
    for condition in args.at_least or []:
        name, equals, number = condition.partition("=")
        if not equals or not number.strip().isdigit():
            raise StoreError(f"--at-least takes COUNT=NUMBER, e.g. likes=100; got {condition!r}.")
        at_least[name.strip()] = int(number)
    page = store.list_items(project.id, args.search or "", args.page, args.page_size, sort=args.sort,
                            at_least=at_least)
    if args.json:
        print_result({"project": project.name, "total": page.total, "page": page.page, "pages": page.pages,
                      "items": [asdict(row) for row in page.rows]}, True, "")
        return 0
    print(f"{project.name}: {page.total} item(s), page {page.page} of {page.pages}")
    for row in page.rows:
        preview = " ".join((row.title or row.preview).split())[:70]
        print(f"{row.id:>7}  {row.kind:<5}  {preview}")
    return 0


def cmd_item(args) -> int:
    store = open_studio(settings_from(args))
    item = store.get_item(args.id)
    if item is None:
        raise StoreError(f"No item with id {args.id}.")
    if args.delete:
        if not args.yes:
            raise StoreError(f"Deleting item {args.id} removes it with its labels: add --yes to confirm.")
        store.delete_item(args.id)
        print(f"Deleted item {args.id}.")
        return 0
    print_result(asdict(item), args.json, f"#{item.id} {item.title or ''}\n{item.source}\n\n{item.text}")
    return 0


def cmd_projects(args) -> int:
    store = open_studio(settings_from(args))
    if args.create:
        store.create_project(args.create, args.task, labels=parse_labels(args.labels),
                             json_schema=_json_schema(args.json_schema))
    if args.rename:
        if not args.to:
            raise StoreError("Say the new name: ftstudio projects --rename OLD --to NEW")
        store.rename_project(resolve_project(store, args.rename).id, args.to)
    if args.delete:
        project = resolve_project(store, args.delete)
        if not args.yes:
            raise StoreError(f"Deleting {project.name!r} removes its items, labels, versions, run records and reviews: "
                             "add --yes to confirm.")
        removed = store.delete_project(project.id)
        print(f"Deleted {project.name!r}: {removed['items']} items, {removed['examples']} examples, "
              f"{removed['dataset_versions']} versions, {removed['runs']} run records.", file=sys.stderr)
    projects = store.list_projects()
    payload = [{"name": p.name, "task_type": p.task_type, "items": store.count_items(p.id)} for p in projects]
    print_result(payload, args.json, "\n".join(f"{p['name']}  ({p['task_type']}, {p['items']} items)" for p in payload)
                 or "No projects yet: `ftstudio import PATH --project NAME` creates one.")
    return 0


def cmd_label(args) -> int:
    """Label in the terminal: the same queue, leases and checks as the Label tab."""
    from ftstudio import labeling

    store = open_studio(settings_from(args))
    project = resolve_project(store, args.project)
    done = 0
    while True:
        task = labeling.next_task(store, project, args.user)
        if task is None:
            print(f"Nothing left for {args.user} in {project.name!r} ({done} labeled now).")
            return 0
        print("\n" + "=" * 72 + f"\n#{task.item.id} {task.item.title or ''}\n\n{task.item.text}\n")
        input_text, output_text, label = task.input, task.output, task.label
        if project.task_type == "classification":
            for number, name in enumerate(project.labels or [], start=1):
                print(f"  {number}. {name}")
        action = input("[a]ccept  [s]kip  [f]lag  [u]ndo  [q]uit  (or a label number): ").strip().lower()
        if action == "q":
            store.release_lease(task.item.id, args.user)
            return 0
        if action == "u":
            store.release_lease(task.item.id, args.user)
            labeling.undo(store, project, args.user)
            continue
        if action.isdigit() and project.labels and 1 <= int(action) <= len(project.labels):
            label, action = project.labels[int(action) - 1], "a"
        if action == "a" and project.task_type != "classification":
            input_text = input(f"input [{input_text[:60]}]: ") or input_text
            output_text = input(f"output [{output_text[:60]}]: ") or output_text
        status = {"a": "accepted", "s": "skipped", "f": "flagged"}.get(action)
        if status is None:
            print("Type a, s, f, u, q or a label number.")
            continue
        try:
            labeling.decide(store, project, args.user, task.item.id, status, input_text, output_text, label)
            done += status == "accepted"
        except labeling.LabelingError as error:
            print(f"Not saved: {error}")


def cmd_agreement(args) -> int:
    from ftstudio import labeling

    store = open_studio(settings_from(args))
    result = labeling.agreement(store, resolve_project(store, args.project))
    lines = [f"{result['method'] or 'no'} kappa over {result['items']} shared items "
             f"({', '.join(result['annotators']) or 'none'})", f"overall: {result['overall']}"]
    lines += [f"{label}: {value}" for label, value in result["per_label"].items()]
    print_result(result, args.json, "\n".join(lines))
    return 0


def register(commands) -> None:
    imp = commands.add_parser("import", help="Import posts and emails from files, folders or zips.",
                              description="Import .eml, .mbox, Outlook .msg, .txt, .md, .csv, .jsonl, .json, .parquet, "
                              "LinkedIn Shares.csv, zips and folders of them into a project.")
    imp.add_argument("paths", nargs="+", help="Files, folders or zip archives.")
    imp.add_argument("--project", help=f"Project to import into; created if missing (default: the studio's only "
                                       f"project, or {DEFAULT_PROJECT!r} in a studio with none).")
    imp.add_argument("--task", choices=TASK_TYPES, default="generation", help="Task type of a new project.")
    imp.add_argument("--labels", help="Comma-separated labels of a new classification project, e.g. phishing,legitimate "
                                      "(default: the values of the files' label column).")
    imp.add_argument("--json-schema", metavar="FILE", help="A JSON Schema file the project's outputs must validate "
                     "against (structured projects; GRPO's json_schema reward uses it).")
    imp.add_argument("--mask-pii", default="", help=f"Comma-separated maskers to apply: {', '.join(MASKERS)}.")
    imp.add_argument("--map", action="append", metavar="FIELD=COLUMN",
                     help="Column mapping for tables, e.g. --map text=body (repeatable); unset fields are guessed.")
    imp.add_argument("--split-forwarded", action="store_true",
                     help="Import each forwarded email as an item of its own, linked back to the email that "
                     "forwarded it (default: it is part of that email's text).")
    add_json_option(imp, "Print the import report as JSON.")
    imp.set_defaults(func=cmd_import)

    items = commands.add_parser("items", help="List a project's items.", description="List a project's items, newest first.")
    add_project_option(items)
    items.add_argument("--search", help="Case-insensitive text to look for.")
    items.add_argument("--page", type=int, default=1, help="Page number.")
    items.add_argument("--page-size", type=int, default=50, help="Items per page.")
    items.add_argument("--sort", default="imported", choices=list(ITEM_SORTS),
                       help="Order: newest import first (imported), by date written (newest, oldest), or by an "
                            "engagement count kept from a post export (likes, reposts, comments, opens).")
    items.add_argument("--at-least", action="append", metavar="COUNT=NUMBER",
                       help=f"Only items with at least this engagement, e.g. likes=100 (repeatable; "
                            f"{', '.join(ENGAGEMENT_FIELDS)}).")
    add_json_option(items)
    items.set_defaults(func=cmd_items)

    item = commands.add_parser("item", help="Show one item in full.", description="Show one item with its metadata.")
    item.add_argument("id", type=int, help="Item id (from `ftstudio items`).")
    item.add_argument("--delete", action="store_true", help="Delete the item with its labels (with --yes).")
    item.add_argument("--yes", action="store_true", help="Confirm --delete.")
    add_json_option(item)
    item.set_defaults(func=cmd_item)

    projects = commands.add_parser("projects", help="List (or create) projects.", description="List projects.")
    projects.add_argument("--create", metavar="NAME", help="Create a project with this name first.")
    projects.add_argument("--task", choices=TASK_TYPES, default="generation", help="Task type for --create.")
    projects.add_argument("--labels", help="Comma-separated labels for a --create'd classification project.")
    projects.add_argument("--json-schema", metavar="FILE", help="A JSON Schema file a --create'd structured project's "
                          "outputs must validate against (GRPO's json_schema reward uses it).")
    projects.add_argument("--rename", metavar="NAME", help="Rename this project (with --to NEW).")
    projects.add_argument("--to", metavar="NEW", help="The new name for --rename.")
    projects.add_argument("--delete", metavar="NAME", help="Delete this project and everything under it (with --yes).")
    projects.add_argument("--yes", action="store_true", help="Confirm --delete.")
    add_json_option(projects)
    projects.set_defaults(func=cmd_projects)

    label = commands.add_parser("label", help="Label items in the terminal, one at a time.",
                                description="The Label tab's queue in the terminal: a accept, s skip, f flag, u undo, "
                                "q quit, or a label number.")
    add_project_option(label)
    label.add_argument("--user", required=True, help="Your name, recorded with every example.")
    label.set_defaults(func=cmd_label)

    agreement = commands.add_parser("agreement", help="Inter-annotator agreement of a project.",
                                    description="Cohen's kappa (two annotators) or Fleiss' kappa (more), per label.")
    add_project_option(agreement)
    add_json_option(agreement)
    agreement.set_defaults(func=cmd_agreement)
