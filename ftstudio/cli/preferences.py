"""The CLI's `preferences` command: the preference pairs the project's votes (and a trusted judge) hold, counted
per source, then frozen into a version DPO trains on; or pairs frozen from a JSONL/Parquet file.
Thin over ftstudio.evaluation.preference_pairs and ftstudio.versions, as the Datasets tab is."""

from __future__ import annotations

from pathlib import Path

from ftstudio.cli.common import add_project_option, open_studio, print_result
from ftstudio.cli.common import resolve_project, settings_from


def cmd_preferences(args) -> int:
    from ftstudio.evaluation.preference_pairs import PreferenceFilters, collect_preferences, freeze_preferences
    from ftstudio.versions import DEFAULT_PLAN, SplitPlan, freeze_preference_rows, parse_split, read_preference_file

    store = open_studio(settings_from(args))
    project = resolve_project(store, args.project)
    plan = SplitPlan(parse_split(args.split) if args.split else DEFAULT_PLAN, args.seed)
    if args.file:
        rows = read_preference_file(Path(args.file))
        version = freeze_preference_rows(store, project, rows, plan, args.name, origin={"file": Path(args.file).name})
        print_result(_version_payload(version), args.json, _version_line(project, version))
        return 0
    filters = PreferenceFilters(min_agreeing=args.min_agreeing, include_judge=args.judge,
                                min_judge_kappa=args.min_kappa,
                                review_ids=[int(r) for r in args.reviews.split(",")] if args.reviews else None)
    candidates = collect_preferences(store, project, filters)
    if not args.freeze:
        print_result(candidates.to_dict(), args.json, candidates.describe() + "\nFreeze them with --freeze.")
        return 0
    version = freeze_preferences(store, project, filters, plan, args.name)
    print_result(_version_payload(version) | {"collected": candidates.to_dict()}, args.json,
           candidates.describe() + "\n" + _version_line(project, version))
    return 0


def _version_payload(version) -> dict:
    return {k: getattr(version, k) for k in ("name", "content_hash", "kind", "counts")}


def _version_line(project, version) -> str:
    counts = version.counts
    identical = (f" Left out {counts['identical_left_out']}: chosen and rejected had the same words, so neither is "
                 "better." if counts.get("identical_left_out") else "")
    return (f"{project.name}: preference version {version.name} ({version.content_hash}): train {counts['train']}, "
            f"validation {counts['validation']}, test {counts['test']}.{identical} Train it with `ftstudio train "
            f"--method dpo --project {project.name!r} --version {version.name} [--from-run RUN]`.")


def register(commands) -> None:
    prefs = commands.add_parser(
        "preferences", help="Preference pairs from review votes (and a trusted judge), for DPO.",
        description="Count the preference pairs (prompt, chosen, rejected) the project's blind reviews hold, per "
                    "source (with pairs imported from preference files), and freeze them into a version with --freeze; "
                    "or freeze pairs from a file with --file.")
    add_project_option(prefs)
    prefs.add_argument("--min-agreeing", type=int, default=1,
                       help="Reviewers who must pick the same answer, with nobody picking the other [1].")
    prefs.add_argument("--judge", action="store_true", help="Also use judge verdicts that held in both orders.")
    prefs.add_argument("--min-kappa", type=float, default=0.4,
                       help="Use the judge only when its Cohen's kappa with people here is at least this [0.4].")
    prefs.add_argument("--reviews", help="Only these review ids, comma-separated (default: all).")
    prefs.add_argument("--file", help="Freeze pairs from a JSONL or Parquet file (prompt/chosen/rejected, or TRL's "
                                      "conversational form) instead.")
    prefs.add_argument("--freeze", action="store_true", help="Freeze the pairs into a version.")
    prefs.add_argument("--name", help="Version name (default v1, v2, ...).")
    prefs.add_argument("--split", help="Train, validation and test fractions [0.9,0.1,0].")
    prefs.add_argument("--seed", type=int, default=0, help="Seed of the split.")
    prefs.add_argument("--json", action="store_true", help="Print JSON.")
    prefs.set_defaults(func=cmd_preferences)
