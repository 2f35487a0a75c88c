"""The CLI's `serve` command: the browser app."""

from __future__ import annotations

from ftstudio.cli.common import settings_from


def cmd_serve(args) -> int:
    from ftstudio.ui.app import serve

    serve(settings_from(args), host=args.host, port=args.port)
    return 0


def register(commands) -> None:
    serve = commands.add_parser("serve", help="Start the browser app.", description="Start the browser app.")
    serve.add_argument("--host", default="127.0.0.1", help="Interface to listen on (0.0.0.0 to share).")
    serve.add_argument("--port", type=int, default=7860, help="Port to listen on.")
    serve.set_defaults(func=cmd_serve)
