"""The CLI's systems commands: `systems add|list|remove` (models behind an OpenAI-compatible endpoint that reviews
can compare) and `distill` (a registered system writes a project's missing outputs as a teacher)."""

from __future__ import annotations

import sys

from ftstudio.cli.common import open_studio, print_result, resolve_project, settings_from
from ftstudio.store import StoreError


def cmd_systems(args) -> int:
    from ftstudio.evaluation.contestants import list_systems, register_system

    settings = settings_from(args)
    store = open_studio(settings)
    if args.action == "list":
        rows = list_systems(store, settings)
        text = "\n".join(f"{r['name']}: {r['model']} @ {r['url']} · USD per million tokens in "
                         f"{r['price_input_usd_per_m']}, out {r['price_output_usd_per_m']}" for r in rows)
        print_result(rows, args.json, (text + f"\nAPI key: {rows[0]['key']}") if rows else
                     "No systems yet: `ftstudio systems add NAME --url URL --model MODEL`.")
        return 0
    if not args.name:
        raise StoreError(f"`ftstudio systems {args.action}` needs the system's NAME.")
    if args.action == "remove":
        if not store.remove_system(args.name):
            raise StoreError(f"No system {args.name!r}: `ftstudio systems list` shows them.")
        print_result({"removed": args.name}, args.json, f"Removed {args.name} (its stored answers stay).")
        return 0
    if not args.url or not args.model:
        raise StoreError("`ftstudio systems add NAME` needs --url URL and --model MODEL.")
    system = register_system(store, args.name, args.url, args.model, args.price_input, args.price_output)
    row = next(r for r in list_systems(store, settings) if r["name"] == system.name)
    print_result(row, args.json, f"Added {system.name}: {system.model} @ {system.url}. Compare it with "
                 f"`ftstudio generate --run RUN --systems base,RUN,{system.name}`. API key: {row['key']}.")
    return 0


def cmd_distill(args) -> int:
    from ftstudio.evaluation.distill import distill

    settings = settings_from(args)
    store = open_studio(settings)
    project = resolve_project(store, args.project)

    def progress(done: int, total: int, cost: float, projected: float) -> None:
        print(f"{done}/{total} asked · cost so far ${cost:.4f}, projected ${projected:.4f}", file=sys.stderr)

    result = distill(store, settings, project, args.teacher, args.limit, args.accept, on_progress=progress)
    print_result(result.to_dict(), args.json, result.summary())
    return 0


def register(commands) -> None:
    systems = commands.add_parser(
        "systems", help="Add, list and remove systems to compare: models behind an OpenAI-compatible endpoint.",
        description="A system is any OpenAI-compatible endpoint (a hosted API, vLLM, llama.cpp's server, Ollama, "
                    "another studio's serve-model) and its prices. Its API key is never stored: it comes from "
                    "FTSTUDIO_JUDGE_API_KEY, else OPENAI_API_KEY, else the key saved on the Judge tab. Compare "
                    "one with `ftstudio generate --run RUN --systems base,RUN,fewshot,NAME`.")
    systems.add_argument("action", choices=["add", "list", "remove"], help="What to do.")
    systems.add_argument("name", nargs="?", help="The system's name (add, remove).")
    systems.add_argument("--url", help="The endpoint, e.g. https://api.openai.com/v1 or http://localhost:8000/v1.")
    systems.add_argument("--model", help="The model name the endpoint knows, e.g. gpt-4o-mini.")
    systems.add_argument("--price-input", type=float, help="USD per million input tokens (for costs).")
    systems.add_argument("--price-output", type=float, help="USD per million output tokens (for costs).")
    systems.add_argument("--json", action="store_true", help="Print JSON.")
    systems.set_defaults(func=cmd_systems)

    dist = commands.add_parser(
        "distill", help="A registered system drafts outputs for a project's items, as a teacher.",
        description="The teacher (a system from `ftstudio systems add`; NAME+fewshot shows it accepted examples "
                    "first) writes outputs for the project's items that have an input and no output yet. They wait "
                    "in the Label tab for acceptance, or with --accept become accepted examples marked teacher. "
                    "Drafts are stored: a rerun asks nothing it asked before and costs nothing for it.")
    dist.add_argument("--project", help="Project name (default: the only one).")
    dist.add_argument("--teacher", required=True, help="The registered system that drafts.")
    dist.add_argument("--limit", type=int, help="Draft at most this many items.")
    dist.add_argument("--accept", action="store_true", help="Accept the drafts as examples marked teacher.")
    dist.add_argument("--json", action="store_true",
                      help='Print {"drafted", "requests", "cached", "failed", "cost_usd"}.')
    dist.set_defaults(func=cmd_distill)
