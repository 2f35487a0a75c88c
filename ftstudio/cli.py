"""The `ftstudio` command line: thin commands over the same functions the browser app calls."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

from ftstudio.config import Settings
from ftstudio.ingest.records import ColumnMapping
from ftstudio.pii import MASKERS
from ftstudio.evaluation.jobs import GenerationError
from ftstudio.models import ModelError
from ftstudio.store import ENGAGEMENT_FIELDS, ITEM_SORTS, TASK_TYPES, StoreError


def _settings(args) -> Settings:
    settings = Settings()
    if getattr(args, "home", None):
        settings.home = Path(args.home)
    if getattr(args, "base_model", None):
        settings.base_model = args.base_model
    return settings


def _open(settings: Settings):
    from ftstudio.store import open_store

    settings.ensure_dirs()
    return open_store(settings.database_path)


def _labels(text: str | None) -> list[str] | None:
    return [label.strip() for label in (text or "").split(",") if label.strip()] or None


def _project(store, name: str, task_type: str = "generation", create: bool = False, labels: str | None = None):
    project = store.find_project(name)
    if project is None:
        if not create:
            known = ", ".join(p.name for p in store.list_projects()) or "none yet"
            raise StoreError(f"No project named {name!r} (projects: {known}). Import into it to create it.")
        project = store.create_project(name, task_type, labels=_labels(labels))
    return project


def _print(payload, as_json: bool, text: str) -> None:
    print(json.dumps(payload, indent=2, default=str, ensure_ascii=False) if as_json else text)


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


def cmd_serve(args) -> int:
    from ftstudio.ui.app import serve

    serve(_settings(args), host=args.host, port=args.port)
    return 0


def cmd_import(args) -> int:
    from ftstudio.importing import ImportOptions, import_paths

    settings = _settings(args)
    mask = tuple(m for m in (args.mask_pii or "").split(",") if m)
    store = _open(settings)
    project = _project(store, args.project, args.task, create=True, labels=args.labels)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise StoreError(f"Not found: {', '.join(missing)}. Nothing was imported.")

    def progress(fraction: float, message: str) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\r{fraction:5.0%}  {message}", end="", file=sys.stderr, flush=True)

    report = import_paths(store, project, args.paths, settings.ingest,
                          ImportOptions(mask_pii=mask, mapping=_parse_mapping(args.map),
                                        split_forwarded=args.split_forwarded), progress)
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    lines = [report.summary()] + [f"  skipped {e.source}: {e.reason}" for e in report.errors]
    _print(report.to_dict(), args.json, "\n".join(lines))
    return 0


def cmd_items(args) -> int:
    store = _open(_settings(args))
    project = _project(store, args.project)
    at_least = {}
    for condition in args.at_least or []:
        name, equals, number = condition.partition("=")
        if not equals or not number.strip().isdigit():
            raise StoreError(f"--at-least takes COUNT=NUMBER, e.g. likes=100; got {condition!r}.")
        at_least[name.strip()] = int(number)
    page = store.list_items(project.id, args.search or "", args.page, args.page_size, sort=args.sort,
                            at_least=at_least)
    if args.json:
        _print({"project": project.name, "total": page.total, "page": page.page, "pages": page.pages,
                "items": [asdict(row) for row in page.rows]}, True, "")
        return 0
    print(f"{project.name}: {page.total} item(s), page {page.page} of {page.pages}")
    for row in page.rows:
        preview = " ".join((row.title or row.preview).split())[:70]
        print(f"{row.id:>7}  {row.kind:<5}  {preview}")
    return 0


def cmd_item(args) -> int:
    store = _open(_settings(args))
    item = store.get_item(args.id)
    if item is None:
        raise StoreError(f"No item with id {args.id}.")
    if args.delete:
        if not args.yes:
            raise StoreError(f"Deleting item {args.id} removes it with its labels: add --yes to confirm.")
        store.delete_item(args.id)
        print(f"Deleted item {args.id}.")
        return 0
    _print(asdict(item), args.json, f"#{item.id} {item.title or ''}\n{item.source}\n\n{item.text}")
    return 0


def cmd_projects(args) -> int:
    store = _open(_settings(args))
    if args.create:
        store.create_project(args.create, args.task, labels=_labels(args.labels))
    if args.rename:
        if not args.to:
            raise StoreError("Say the new name: ftstudio projects --rename OLD --to NEW")
        store.rename_project(_project(store, args.rename).id, args.to)
    if args.delete:
        project = _project(store, args.delete)
        if not args.yes:
            raise StoreError(f"Deleting {project.name!r} removes its items, labels, versions, run records and reviews: "
                             "add --yes to confirm.")
        removed = store.delete_project(project.id)
        print(f"Deleted {project.name!r}: {removed['items']} items, {removed['examples']} examples, "
              f"{removed['dataset_versions']} versions, {removed['runs']} run records.", file=sys.stderr)
    projects = store.list_projects()
    payload = [{"name": p.name, "task_type": p.task_type, "items": store.count_items(p.id)} for p in projects]
    _print(payload, args.json, "\n".join(f"{p['name']}  ({p['task_type']}, {p['items']} items)" for p in payload)
           or "No projects yet: `ftstudio import PATH --project NAME` creates one.")
    return 0


def cmd_label(args) -> int:
    """Label in the terminal: the same queue, leases and checks as the Label tab."""
    from ftstudio import labeling

    store = _open(_settings(args))
    project = _project(store, args.project)
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

    store = _open(_settings(args))
    result = labeling.agreement(store, _project(store, args.project))
    lines = [f"{result['method'] or 'no'} kappa over {result['items']} shared items "
             f"({', '.join(result['annotators']) or 'none'})", f"overall: {result['overall']}"]
    lines += [f"{label}: {value}" for label, value in result["per_label"].items()]
    _print(result, args.json, "\n".join(lines))
    return 0


def cmd_versions(args) -> int:
    store = _open(_settings(args))
    project = _project(store, args.project)
    versions = store.list_versions(project.id)
    payload = [{k: getattr(v, k) for k in ("name", "content_hash", "counts", "split", "template", "created_at")}
               for v in versions]
    payload = [dict(entry, kind=v.kind) for entry, v in zip(payload, versions)]
    lines = [f"{v.name:<12} {v.content_hash}  {'preference pairs: ' if v.is_preferences else ''}train "
             f"{v.counts['train']} · validation {v.counts['validation']} · test {v.counts['test']}  "
             f"({v.created_at:%Y-%m-%d %H:%M})" for v in versions]
    _print(payload, args.json, "\n".join(lines) or f"{project.name!r} has no versions yet: `ftstudio freeze`.")
    return 0


def cmd_freeze(args) -> int:
    from ftstudio.templates import Template
    from ftstudio.versions import SplitPlan, freeze_version, parse_split, split_warnings

    store = _open(_settings(args))
    project = _project(store, args.project)
    template = Template.from_dict({**project.settings.get("template", {}), **({"preset": args.template} if args.template else {}),
                                   **({"system": args.system} if args.system is not None else {})})
    version = freeze_version(store, project, template, SplitPlan(parse_split(args.split), args.seed), args.name)
    counts = version.counts
    _print({k: getattr(version, k) for k in ("name", "content_hash", "counts")}, args.json,
           f"{project.name}: version {version.name} ({version.content_hash}): train {counts['train']}, "
           f"validation {counts['validation']}, test {counts['test']}"
           + "".join(f"\nnote: {warning}" for warning in split_warnings(counts)))
    return 0


def cmd_export(args) -> int:
    from ftstudio.versions import export_version, get_version

    settings = _settings(args)
    store = _open(settings)
    project = _project(store, args.project)
    version = get_version(store, project, args.version)
    tokenizer = None
    if version.template.get("preset") == "chat" and args.format == "jsonl-prompt":
        from ftstudio.models import load_tokenizer

        tokenizer = load_tokenizer(settings.base_model, settings.model_cache)
    written = export_version(store, version, args.format, Path(args.out), tokenizer)
    _print([str(p) for p in written], args.json, "\n".join(f"wrote {p}" for p in written))
    return 0


def _train_config(args):
    from ftstudio.training.config import TrainConfig

    from ftstudio.training.config import DPO_LEARNING_RATE

    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if values.get("method") == "dpo":  # `--method dpo`: DPO on a LoRA adapter (`--objective dpo --method qlora`)
        values.update(objective="dpo", method="lora")
    if values.get("objective") == "dpo":
        values.setdefault("learning_rate", DPO_LEARNING_RATE)
    return TrainConfig.from_dict(values)


def _recipe_options(args) -> dict:
    from ftstudio.training.recipes import option_fields

    return {name: getattr(args, name) for name in option_fields() if getattr(args, name, None) is not None}


def _progress_printer(as_json: bool):
    def show(run) -> None:
        if not as_json:
            total = run.max_steps or "?"
            loss = f" loss {run.train_loss:.4f}" if run.train_loss is not None else ""
            evaluation = f" val {run.eval_loss:.4f}" if run.eval_loss is not None else ""
            print(f"\rrun {run.id} {run.status}: step {run.step}/{total}{loss}{evaluation}   ",
                  end="", file=sys.stderr, flush=True)
    return show


def _run_payload(run) -> dict:
    return {k: getattr(run, k) for k in ("id", "name", "project_name", "version_name", "base_model", "method", "status",
                                         "step", "max_steps", "train_loss", "eval_loss", "error", "run_dir")}


def cmd_train(args) -> int:
    if args.run_dir:
        from ftstudio.training.worker import main as worker_main

        return worker_main([args.run_dir])
    from ftstudio.training.manager import RunManager

    if not (args.project and args.version):
        raise StoreError("Name --project and --version (a frozen version), or give --run-dir DIR.")
    settings = _settings(args)
    store = _open(settings)
    project = _project(store, args.project)
    manager = RunManager(store, settings)
    if args.prepare_only:

        run_id = manager.create_run(project, args.version, _train_config(args), check_memory=False,
                                    queue=False, base_model=args.base_model, options=_recipe_options(args))
        run = store.get_run(run_id)
        _print(_run_payload(run), args.json, f"Prepared {run.run_dir}\n"
               f"Train it anywhere with: ftstudio train --run-dir {run.run_dir}\n"
               f"then bring it back with: ftstudio runs import DIR --project {project.name!r}")
        return 0
    run_id = manager.create_run(project, args.version, _train_config(args), base_model=args.base_model,
                                options=_recipe_options(args))
    run = manager.wait(run_id, on_progress=_progress_printer(args.json))
    if not args.json:
        print(file=sys.stderr)
    _print(_run_payload(run), args.json, f"run {run.id} {run.status}: {run.run_dir}"
           + (f"\n{run.error}" if run.error else ""))
    return 0 if run.status == "finished" else 1


def cmd_runs(args) -> int:
    from ftstudio.training.manager import RunManager

    settings = _settings(args)
    store = _open(settings)
    manager = RunManager(store, settings)
    if args.action == "import":
        if not (args.target and args.project):
            raise StoreError("Usage: ftstudio runs import DIR --project NAME")
        run_id = manager.import_run_folder(Path(args.target), _project(store, args.project))
        run = store.get_run(run_id)
        _print(_run_payload(run), args.json, f"Imported run {run_id} ({run.status}) from {args.target}")
        return 0
    if args.action in ("cancel", "resume"):
        if not (args.target or "").isdigit():
            raise StoreError(f"Usage: ftstudio runs {args.action} RUN_ID")
        manager.reattach()
        if args.action == "cancel":
            manager.cancel(int(args.target))
            run = store.get_run(int(args.target))
            _print(_run_payload(run), args.json, f"Cancel requested for run {args.target}.")
            return 0
        manager.resume(int(args.target))
        run = manager.wait(int(args.target), on_progress=_progress_printer(args.json))
        _print(_run_payload(run), args.json, f"\nrun {run.id} {run.status}")
        return 0
    project = _project(store, args.project) if args.project else None
    runs = store.list_runs(project.id if project else None)
    payload = [_run_payload(r) for r in runs]
    lines = [f"{r.id:>4}  {r.status:<11} {r.project_name} / {r.version_name or '-'}  {r.method}  "
             f"step {r.step}/{r.max_steps or '?'}  loss {r.train_loss if r.train_loss is not None else '-'}  "
             f"val {r.eval_loss if r.eval_loss is not None else '-'}" + (f"\n      {r.error}" if r.error else "")
             for r in runs]
    _print(payload, args.json, "\n".join(lines) or "No runs yet: `ftstudio train --project P --version V`.")
    return 0


def _add_train_settings(parser) -> None:
    from ftstudio.training.config import TrainConfig

    group = parser.add_argument_group("run settings (defaults in brackets)")
    for f in fields(TrainConfig):
        default = f.default
        option = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(option, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=f"{f.metadata['help']} [{default}]")
        elif f.name == "method":
            group.add_argument(option, dest=f.name, choices=["lora", "qlora", "full", "features", "dpo"],
                               default=None,
                               help=f"{f.metadata['help']} dpo: the same as --objective dpo with lora. [{default}]")
        else:
            group.add_argument(option, dest=f.name, type=type(default), default=None,
                               help=f"{f.metadata['help']} [{default}]")
    from ftstudio.training.recipes import option_fields

    recipes = parser.add_argument_group("recipe options (the recipe follows the base model's family)")
    for name, f in option_fields().items():
        option = "--" + name.replace("_", "-")
        if isinstance(f.default, bool):
            recipes.add_argument(option, dest=name, action=argparse.BooleanOptionalAction, default=None,
                                 help=f"{f.metadata['help']} [{f.default}]")
        else:
            recipes.add_argument(option, dest=name, type=type(f.default), default=None,
                                 help=f"{f.metadata['help']} [{f.default}]")


def cmd_bench(args) -> int:
    from ftstudio.bench import run_benchmark

    result = run_benchmark(args.name, args)
    _print(result, args.json, "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ftstudio.cli_judge import add_judge_commands
    from ftstudio.cli_preferences import add_preference_commands
    from ftstudio.cli_review import add_review_commands
    from ftstudio.cli_snapshots import add_snapshot_commands
    from ftstudio.cli_users import add_user_commands

    parser = argparse.ArgumentParser(prog="ftstudio", description="Fine-tune language models on your own posts and emails.")
    parser.add_argument("--home", help="Studio folder (default: $FTSTUDIO_HOME or ./ftstudio-data).")
    parser.add_argument("--base-model", help="Base model: embedded:SmolLM2-135M-Instruct, a folder, a .gguf file or a Hub id.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="Start the browser app.", description="Start the browser app.")
    serve.add_argument("--host", default="127.0.0.1", help="Interface to listen on (0.0.0.0 to share).")
    serve.add_argument("--port", type=int, default=7860, help="Port to listen on.")
    serve.set_defaults(func=cmd_serve)

    imp = commands.add_parser("import", help="Import posts and emails from files, folders or zips.",
                              description="Import .eml, .mbox, Outlook .msg, .txt, .md, .csv, .jsonl, .json, .parquet, "
                              "LinkedIn Shares.csv, zips and folders of them into a project.")
    imp.add_argument("paths", nargs="+", help="Files, folders or zip archives.")
    imp.add_argument("--project", default="default", help="Project to import into; created if missing.")
    imp.add_argument("--task", choices=TASK_TYPES, default="generation", help="Task type of a new project.")
    imp.add_argument("--labels", help="Comma-separated labels of a new classification project, e.g. phishing,legitimate.")
    imp.add_argument("--mask-pii", default="", help=f"Comma-separated maskers to apply: {', '.join(MASKERS)}.")
    imp.add_argument("--map", action="append", metavar="FIELD=COLUMN",
                     help="Column mapping for tables, e.g. --map text=body (repeatable); unset fields are guessed.")
    imp.add_argument("--split-forwarded", action="store_true",
                     help="Import each forwarded email as an item of its own, linked back to the email that "
                     "forwarded it (default: it is part of that email's text).")
    imp.add_argument("--json", action="store_true", help="Print the import report as JSON.")
    imp.set_defaults(func=cmd_import)

    items = commands.add_parser("items", help="List a project's items.", description="List a project's items, newest first.")
    items.add_argument("--project", default="default", help="Project name.")
    items.add_argument("--search", help="Case-insensitive text to look for.")
    items.add_argument("--page", type=int, default=1, help="Page number.")
    items.add_argument("--page-size", type=int, default=50, help="Items per page.")
    items.add_argument("--sort", default="imported", choices=list(ITEM_SORTS),
                       help="Order: newest import first (imported), by date written (newest, oldest), or by an "
                            "engagement count kept from a post export (likes, reposts, comments, opens).")
    items.add_argument("--at-least", action="append", metavar="COUNT=NUMBER",
                       help=f"Only items with at least this engagement, e.g. likes=100 (repeatable; "
                            f"{', '.join(ENGAGEMENT_FIELDS)}).")
    items.add_argument("--json", action="store_true", help="Print JSON.")
    items.set_defaults(func=cmd_items)

    item = commands.add_parser("item", help="Show one item in full.", description="Show one item with its metadata.")
    item.add_argument("id", type=int, help="Item id (from `ftstudio items`).")
    item.add_argument("--delete", action="store_true", help="Delete the item with its labels (with --yes).")
    item.add_argument("--yes", action="store_true", help="Confirm --delete.")
    item.add_argument("--json", action="store_true", help="Print JSON.")
    item.set_defaults(func=cmd_item)

    projects = commands.add_parser("projects", help="List (or create) projects.", description="List projects.")
    projects.add_argument("--create", metavar="NAME", help="Create a project with this name first.")
    projects.add_argument("--task", choices=TASK_TYPES, default="generation", help="Task type for --create.")
    projects.add_argument("--labels", help="Comma-separated labels for a --create'd classification project.")
    projects.add_argument("--rename", metavar="NAME", help="Rename this project (with --to NEW).")
    projects.add_argument("--to", metavar="NEW", help="The new name for --rename.")
    projects.add_argument("--delete", metavar="NAME", help="Delete this project and everything under it (with --yes).")
    projects.add_argument("--yes", action="store_true", help="Confirm --delete.")
    projects.add_argument("--json", action="store_true", help="Print JSON.")
    projects.set_defaults(func=cmd_projects)

    add_review_commands(commands)
    add_judge_commands(commands)
    add_preference_commands(commands)
    add_user_commands(commands)
    add_snapshot_commands(commands)

    label = commands.add_parser("label", help="Label items in the terminal, one at a time.",
                                description="The Label tab's queue in the terminal: a accept, s skip, f flag, u undo, "
                                "q quit, or a label number.")
    label.add_argument("--project", required=True, help="Project name.")
    label.add_argument("--user", required=True, help="Your name, recorded with every example.")
    label.set_defaults(func=cmd_label)

    agreement = commands.add_parser("agreement", help="Inter-annotator agreement of a project.",
                                    description="Cohen's kappa (two annotators) or Fleiss' kappa (more), per label.")
    agreement.add_argument("--project", required=True, help="Project name.")
    agreement.add_argument("--json", action="store_true", help="Print JSON.")
    agreement.set_defaults(func=cmd_agreement)

    versions = commands.add_parser("versions", help="List a project's frozen dataset versions.",
                                   description="List a project's frozen dataset versions, newest first.")
    versions.add_argument("--project", default="default", help="Project name.")
    versions.add_argument("--json", action="store_true", help="Print JSON.")
    versions.set_defaults(func=cmd_versions)

    freeze = commands.add_parser("freeze", help="Freeze accepted examples into a split dataset version.",
                                 description="Snapshot the accepted examples and the template into an immutable, "
                                 "content-hashed version with train/validation/test splits.")
    freeze.add_argument("--project", required=True, help="Project name.")
    freeze.add_argument("--name", help="Version name (default v1, v2, ...).")
    freeze.add_argument("--split", default="0.8,0.1,0.1", help="Train, validation and test fractions.")
    freeze.add_argument("--seed", type=int, default=0, help="Seed of the split.")
    freeze.add_argument("--template", choices=["chat", "instruction", "alpaca"], help="Template preset (default: the project's).")
    freeze.add_argument("--system", help="System prompt for the template.")
    freeze.add_argument("--json", action="store_true", help="Print JSON.")
    freeze.set_defaults(func=cmd_freeze)

    export = commands.add_parser("export", help="Export a dataset version.",
                                 description="Export a version as JSONL (chat messages or prompt/completion), "
                                 "Parquet, or a datasets DatasetDict saved to disk.")
    export.add_argument("--project", required=True, help="Project name.")
    export.add_argument("--version", required=True, help="Version name.")
    export.add_argument("--format", choices=["jsonl", "jsonl-prompt", "parquet", "hf"], default="jsonl",
                        help="jsonl: chat messages; jsonl-prompt: prompt/completion; parquet; hf: DatasetDict.")
    export.add_argument("out", help="Output folder.")
    export.add_argument("--json", action="store_true", help="Print JSON.")
    export.set_defaults(func=cmd_export)

    train = commands.add_parser("train", help="Train a LoRA/QLoRA adapter, an encoder classifier or the feature "
                                "baseline on a frozen dataset version.",
                                description="Train on a frozen version in a child process and wait for it; or run a "
                                "prepared run folder on this machine with --run-dir. The recipe follows the base "
                                "model's family: causal LMs write text (SFT, DPO); encoders (BERT, MiniLM: "
                                "embedded:all-MiniLM-L6-v2) classify (lora, full, or --method features for the "
                                "feature baseline); encoder-decoders (T5) turn text into text.")
    train.add_argument("--base-model", default=argparse.SUPPRESS,
                       help="Base model for this run (as the global --base-model): its family picks the recipe.")
    train.add_argument("--project", help="Project name.")
    train.add_argument("--version", help="Frozen dataset version to train on.")
    train.add_argument("--run-dir", help="Run a prepared run folder here (no database needed).")
    train.add_argument("--prepare-only", action="store_true", help="Write the run folder and stop, to train elsewhere.")
    train.add_argument("--json", action="store_true", help="Print JSON.")
    _add_train_settings(train)
    train.set_defaults(func=cmd_train)

    runs = commands.add_parser("runs", help="List, import, cancel or resume training runs.",
                               description="ftstudio runs [list] | runs import DIR --project P | runs cancel ID | "
                               "runs resume ID")
    runs.add_argument("action", nargs="?", default="list", choices=["list", "import", "cancel", "resume"],
                      help="What to do (default: list).")
    runs.add_argument("target", nargs="?", help="A run folder (import) or a run id (cancel, resume).")
    runs.add_argument("--project", help="Project name.")
    runs.add_argument("--json", action="store_true", help="Print JSON.")
    runs.set_defaults(func=cmd_runs)

    bench = commands.add_parser("bench", help="Run a benchmark against its baseline and print figures.",
                                description="Benchmarks measured side by side with a baseline in one run.")
    bench.add_argument("name", choices=["ingest", "train", "generate", "judge", "dpo", "classify", "load"],
                       help="Which benchmark.")
    bench.add_argument("--seconds", type=float, help="load: seconds each phase runs [30].")
    bench.add_argument("--users", type=int, help="load: people labeling and voting at once [16].")
    bench.add_argument("--pairs", type=int, help="judge: pairs judged in both orders [100, so 200 judgments].")
    bench.add_argument("--concurrency", type=int, help="judge: requests in flight for the studio [16].")
    bench.add_argument("--steps", type=int, help="train, dpo, classify: optimizer steps for each trainer.")
    bench.add_argument("--model", help="train: a local model folder instead of the embedded model.")
    bench.add_argument("--variants", help="train: the studio variants to time, comma-separated: a batching mode, "
                                          "optionally +compile and +fp32 (fp32 where the device would use bf16) "
                                          "[CPU: group_by_length,group_by_length+compile].")
    bench.add_argument("--emails", type=int, default=20_000, help="ingest: how many emails to generate.")
    bench.add_argument("--scale", type=int, default=8,
                       help="ingest: the second, larger mbox holds this many times --emails, imported by the studio only.")
    bench.add_argument("--classify-emails", type=int, help="classify: labeled emails to generate [2400].")
    bench.add_argument("--prompts", type=int, help="generate: prompts answered by base and tuned [32].")
    bench.add_argument("--max-new-tokens", type=int, help="generate: longest answer in tokens [64].")
    bench.add_argument("--batch-size", type=int, help="train: examples per step; generate: the studio's batch size, 0 picks by device.")
    bench.add_argument("--json", action="store_true", help="Print JSON.")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
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
