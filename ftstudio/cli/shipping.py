"""The CLI's `export-model`: a finished run as a merged folder, a GGUF file or an Ollama model, checked against the
studio. Thin over ftstudio.shipping.export, as the Train tab's export panel is."""

from __future__ import annotations

import sys
from pathlib import Path

from ftstudio.cli.common import add_json_option, find_run, open_studio, print_result, settings_from


def _progress(as_json: bool):
    def show(fraction: float, message: str) -> None:
        if not as_json:
            filled = round(30 * fraction)
            print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {message:<60.60}", end="", file=sys.stderr, flush=True)
    return show


def cmd_export_model(args) -> int:
    from ftstudio.shipping.check import describe
    from ftstudio.shipping.export import export_run

    settings = settings_from(args)
    store = open_studio(settings)
    try:
        run = find_run(store, args.run)
    finally:
        store.close()
    result = export_run(Path(run.run_dir), Path(args.out), args.format, args.quantization, name=run.name, progress=_progress(args.json))
    if not args.json:
        print(file=sys.stderr)
    payload = result.to_dict()
    payload["check"] = {key: result.check.get(key) for key in ("prompts", "agreement", "max_logit_diff")}
    text = f"Exported run {run.id} as {result.format} to {result.path} ({result.bytes / 2**20:,.1f} MB).\n"
    text += describe(result.check)
    if result.format == "ollama":
        text += f"\nNext: cd {result.path} && ollama create NAME -f Modelfile"
    print_result(payload, args.json, text)
    return 0


def register(commands) -> None:
    export = commands.add_parser(
        "export-model", help="Export a finished run as a merged folder, a GGUF file or an Ollama model.",
        description="Export a finished run (its adapter folded into the base weights) with the template it trained "
                    "with, and check the export against the run as the studio serves it: the share of greedy next "
                    "tokens that agree and the largest logit difference, written to OUT/check.json.")
    export.add_argument("--run", required=True, help="Run id or folder name (`ftstudio runs` lists them).")
    export.add_argument("--format", choices=("merged", "gguf", "ollama"), default="merged",
                        help="merged: a Hugging Face folder; gguf: one .gguf file; ollama: the .gguf and a Modelfile.")
    export.add_argument("--quantization", choices=("f16", "q8_0"), default="f16",
                        help="GGUF weights: f16, or q8_0 (about half the size). Ignored for merged.")
    export.add_argument("out", metavar="OUT", help="A new folder to write the export into.")
    add_json_option(export, 'Print {"format", "path", "bytes", "quantization", "check": {"prompts", "agreement", '
                            '"max_logit_diff"}}.')
    export.set_defaults(func=cmd_export_model)
