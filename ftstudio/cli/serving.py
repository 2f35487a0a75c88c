"""The CLI's `serve-model` command: an OpenAI-compatible endpoint for a run (and the base model, and every other
finished run of the same base model), from one loaded base model."""

from __future__ import annotations

from ftstudio.cli.common import (add_json_option, add_project_option, find_run, open_studio, print_result,
                                 resolve_project, settings_from)


def cmd_serve_model(args) -> int:
    from ftstudio.shipping.server import serve_manifest
    from ftstudio.shipping.served import serving_manifest

    settings = settings_from(args)
    store = open_studio(settings)
    try:
        run = find_run(store, args.run)
        manifest = serving_manifest(store, run)
        path = manifest.write(settings.home / "serving" / f"{run.system}.json")
    finally:
        store.close()  # the server never holds the database: the app may open it meanwhile
    print(f"Models: {', '.join(manifest.names)} (manifest {path})", flush=True)
    return serve_manifest(manifest, args.host, args.port, args.backend, args.max_batch, args.max_in_flight,
                          args.api_key)


def cmd_drafts(args) -> int:
    """Per drafting model: drafts used in accepted examples, the share kept unchanged, the median edit."""
    from ftstudio.labeling import draft_acceptance

    store = open_studio(settings_from(args))
    rows = draft_acceptance(store, resolve_project(store, args.project))
    lines = [f"{row['model']}: {row['drafts']} drafts, {row['unchanged']:.0%} accepted unchanged, median edit "
             f"{row['median_change']:.2f}" for row in rows] or ["No accepted example started from a model draft yet."]
    print_result(rows, args.json, "\n".join(lines))
    return 0


def register(commands) -> None:
    from ftstudio.shipping.server import add_server_options

    serve = commands.add_parser(
        "serve-model", help="Serve a run as an OpenAI-compatible API (/v1/chat/completions).",
        description="Serve a run, the base model (as `base`) and every finished run of the same base model (as "
                    "run-N) as an OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions, streaming too. "
                    "Prompts use each run's own template and system prompt; greedy answers equal `ftstudio generate "
                    "--run`'s.")
    serve.add_argument("--run", required=True, help="The run to serve (id, run-N or folder name).")
    add_server_options(serve)
    serve.set_defaults(func=cmd_serve_model)
    drafts = commands.add_parser("drafts", help="How much people change each drafting model's drafts.",
                                 description="Per drafting model (base, run-N, an endpoint's model): drafts used in "
                                             "accepted examples, the share accepted unchanged, and the median edit "
                                             "size (0 kept as is, 1 rewritten).")
    add_project_option(drafts)
    add_json_option(drafts)
    drafts.set_defaults(func=cmd_drafts)
