"""The CLI's `serve-model` command: an OpenAI-compatible endpoint for a run (and the base model, and every other
finished run of the same base model), from one loaded base model."""

from __future__ import annotations

from ftstudio.cli.common import find_run, open_studio, settings_from


def cmd_serve_model(args) -> int:
    from ftstudio.shipping.server import serve_manifest
    from ftstudio.shipping.served import serving_manifest

    settings = settings_from(args)
    store = open_studio(settings)
    try:
        manifest = serving_manifest(store, find_run(store, args.run))
        path = manifest.write(settings.home / "serving" / f"run-{manifest.run_id}.json")
    finally:
        store.close()  # the server never holds the database: the app may open it meanwhile
    print(f"Models: {', '.join(manifest.names)} (manifest {path})", flush=True)
    return serve_manifest(manifest, args.host, args.port, args.backend, args.max_batch, args.max_in_flight,
                          args.api_key)


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
