"""The CLI's dataset version commands: `versions` (list), `freeze` (accepted examples into a split version) and
`export` (a version as JSONL, Parquet or a DatasetDict). Thin over ftstudio.versions, as the Datasets tab is."""

from __future__ import annotations

from pathlib import Path

from ftstudio.cli.common import (add_json_option, add_project_option, open_studio, print_result, resolve_project,
                                 settings_from)


def cmd_versions(args) -> int:
    store = open_studio(settings_from(args))
    project = resolve_project(store, args.project)
    versions = store.list_versions(project.id)
    payload = [{k: getattr(v, k) for k in ("name", "content_hash", "counts", "split", "template", "created_at")}
               for v in versions]
    payload = [dict(entry, kind=v.kind) for entry, v in zip(payload, versions)]
    lines = [f"{v.name:<12} {v.content_hash}  {'preference pairs: ' if v.is_preferences else ''}train "
             f"{v.counts['train']} · validation {v.counts['validation']} · test {v.counts['test']}  "
             f"({v.created_at:%Y-%m-%d %H:%M})" for v in versions]
    print_result(payload, args.json, "\n".join(lines) or f"{project.name!r} has no versions yet: `ftstudio freeze`.")
    return 0


def cmd_freeze(args) -> int:
    from ftstudio.templates import Template
    from ftstudio.versions import SplitPlan, freeze_version, parse_split, split_warnings

    store = open_studio(settings_from(args))
    project = resolve_project(store, args.project)
    if args.kind == "text":
        return _freeze_text(store, project, args)
    template = Template.from_dict({**project.settings.get("template", {}), **({"preset": args.template} if args.template else {}),
                                   **({"system": args.system} if args.system is not None else {})})
    version = freeze_version(store, project, template, SplitPlan(parse_split(args.split or "0.8,0.1,0.1"), args.seed), args.name)
    counts = version.counts
    print_result({k: getattr(version, k) for k in ("name", "content_hash", "counts")}, args.json,
                 f"{project.name}: version {version.name} ({version.content_hash}): train {counts['train']}, "
                 f"validation {counts['validation']}, test {counts['test']}"
                 + "".join(f"\nnote: {warning}" for warning in split_warnings(counts)))
    return 0


def _freeze_text(store, project, args) -> int:
    """`freeze --kind text`: the items' raw text, for continued pre-training (no labels needed)."""
    from ftstudio.versions import TEXT_PLAN, SplitPlan, freeze_text_version, parse_split

    plan = SplitPlan(parse_split(args.split) if args.split else TEXT_PLAN, args.seed)
    version = freeze_text_version(store, project, plan, args.name)
    counts = version.counts
    print_result({k: getattr(version, k) for k in ("name", "content_hash", "counts", "kind")}, args.json,
                 f"{project.name}: text version {version.name} ({version.content_hash}): train {counts['train']}, "
                 f"validation {counts['validation']}, test {counts['test']} texts\n"
                 f"Continue pre-training on it: ftstudio train --project {project.name!r} --version {version.name} "
                 "--objective cpt")
    return 0


def cmd_export(args) -> int:
    from ftstudio.versions import export_version, get_version

    settings = settings_from(args)
    store = open_studio(settings)
    project = resolve_project(store, args.project)
    version = get_version(store, project, args.version)
    tokenizer = None
    if version.template.get("preset") == "chat" and args.format == "jsonl-prompt":
        from ftstudio.models import load_tokenizer

        tokenizer = load_tokenizer(settings.base_model, settings.model_cache)
    written = export_version(store, version, args.format, Path(args.out), tokenizer)
    print_result([str(p) for p in written], args.json, "\n".join(f"wrote {p}" for p in written))
    return 0


def register(commands) -> None:
    versions = commands.add_parser("versions", help="List a project's frozen dataset versions.",
                                   description="List a project's frozen dataset versions, newest first.")
    add_project_option(versions)
    add_json_option(versions)
    versions.set_defaults(func=cmd_versions)

    freeze = commands.add_parser("freeze", help="Freeze accepted examples into a split dataset version.",
                                 description="Snapshot the accepted examples and the template into an immutable, "
                                 "content-hashed version with train/validation/test splits.")
    add_project_option(freeze)
    freeze.add_argument("--name", help="Version name (default v1, v2, ...).")
    freeze.add_argument("--kind", choices=["examples", "text"], default="examples",
                        help="examples: the accepted examples (input/output or labels); text: every item's raw text, "
                        "for continued pre-training (--objective cpt), no labeling needed.")
    freeze.add_argument("--split", default=None, help="Train, validation and test fractions (default 0.8,0.1,0.1; "
                        "0.9,0.1,0 for text).")
    freeze.add_argument("--seed", type=int, default=0, help="Seed of the split.")
    freeze.add_argument("--template", choices=["chat", "instruction", "alpaca"], help="Template preset (default: the project's).")
    freeze.add_argument("--system", help="System prompt for the template.")
    add_json_option(freeze)
    freeze.set_defaults(func=cmd_freeze)

    export = commands.add_parser("export", help="Export a dataset version.",
                                 description="Export a version as JSONL (chat messages or prompt/completion), "
                                 "Parquet, or a datasets DatasetDict saved to disk.")
    add_project_option(export)
    export.add_argument("--version", required=True, help="Version name.")
    export.add_argument("--format", choices=["jsonl", "jsonl-prompt", "parquet", "hf"], default="jsonl",
                        help="jsonl: chat messages; jsonl-prompt: prompt/completion; parquet; hf: DatasetDict.")
    export.add_argument("out", help="Output folder.")
    add_json_option(export)
    export.set_defaults(func=cmd_export)
