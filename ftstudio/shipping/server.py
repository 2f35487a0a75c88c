"""The OpenAI-compatible server of a run: `GET /v1/models` and `POST /v1/chat/completions` (whole answers, or
streamed as server-sent events ending with `data: [DONE]`), every served name answered by one loaded base model.

`python -m ftstudio.shipping.server MANIFEST.json [--host H] [--port N] [--backend auto|transformers|vllm]`
serves a manifest (see served.py); `ftstudio serve-model --run RUN` writes one and runs this. FastAPI and uvicorn
rather than the standard library's http.server: they come with gradio already, and give asynchronous streaming
and many open connections on one thread, which http.server would need a thread per client and hand-written
chunked encoding for.

With `--backend vllm` (a GPU host with vLLM installed) this starts vLLM's own OpenAI server instead, with the same
names: the base model as `base` and each run's adapter as a LoRA module.
"""


# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations (Request) at run time.
import argparse
import asyncio
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ftstudio.shipping.chat_request import (DONE_LINE, chunk_line, completion_body, error_body, models_body,
                                            new_completion_id, parse_chat_request)
from ftstudio.shipping.engine import RequestError
from ftstudio.shipping.manifest import ServeManifest

DEFAULT_PORT = 8000
DEFAULT_MAX_BATCH = 8
DEFAULT_MAX_IN_FLIGHT = 64
API_KEY_VARIABLE = "FTSTUDIO_SERVE_API_KEY"


def build_api(engine, batcher, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT, api_key: str | None = None):
    """The FastAPI application over a loaded engine and its batcher."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse

    from ftstudio.shipping.batching import Job

    app = FastAPI(title="ftstudio", docs_url=None, redoc_url=None)
    created = int(time.time())
    state = {"in_flight": 0}

    def refuse(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
        return JSONResponse(error_body(message, kind, code), status_code=status)

    def unauthorized(request: Request):
        if not api_key:
            return None
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(sent.encode(), api_key.encode()):
            return None
        return refuse(401, "Missing or wrong API key: send it as `Authorization: Bearer KEY`.",
                      "invalid_request_error", "invalid_api_key")

    @app.get("/v1/models")
    async def list_models(request: Request):
        return unauthorized(request) or models_body(engine.names, created)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        if (refused := unauthorized(request)) is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return refuse(400, "The body is not JSON: send {\"model\": ..., \"messages\": [...]}.")
        try:
            chat = parse_chat_request(body, engine.names)
            prompt = engine.prompt(chat.model, chat.messages)
        except RequestError as error:
            return refuse(400, str(error))
        except LookupError as error:
            return refuse(404, str(error), code="model_not_found")
        if state["in_flight"] >= max_in_flight:
            return refuse(429, f"The server is answering {max_in_flight} requests already (its limit): retry in a "
                               "moment.", "rate_limit_exceeded", "rate_limit_exceeded")
        state["in_flight"] += 1
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue = asyncio.Queue()
        finished = loop.create_future()

        def settle(answer, error):  # on the event loop: the slot is free once the answer is made
            state["in_flight"] -= 1
            if not finished.done():
                finished.set_result((answer, error))

        def on_done(answer, error):
            loop.call_soon_threadsafe(settle, answer, error)

        on_text = (lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text)) if chat.stream else None
        batcher.submit(Job(chat.model, prompt, chat.max_new_tokens, chat.sampling, on_text, on_done))
        completion_id = new_completion_id()
        if not chat.stream:
            answer, error = await finished
            if error is not None:
                return refuse(500, f"Generation failed: {type(error).__name__}: {error}", "server_error")
            return completion_body(completion_id, chat.model, answer)

        async def events():
            yield chunk_line(completion_id, chat.model, {"role": "assistant", "content": ""})
            while True:
                waiter = asyncio.ensure_future(pieces.get())
                await asyncio.wait([waiter, finished], return_when=asyncio.FIRST_COMPLETED)
                if waiter.done():
                    yield chunk_line(completion_id, chat.model, {"content": waiter.result()})
                    continue
                waiter.cancel()
                break
            while not pieces.empty():  # every piece was queued before the answer was settled
                yield chunk_line(completion_id, chat.model, {"content": pieces.get_nowait()})
            answer, error = finished.result()
            if error is not None:
                yield f"data: {json.dumps(error_body(f'Generation failed: {error}', 'server_error'))}\n\n"
            else:
                yield chunk_line(completion_id, chat.model, {}, answer.finish_reason)
                if chat.include_usage:
                    yield chunk_line(completion_id, chat.model, {}, usage=answer)
            yield DONE_LINE

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def vllm_command(manifest: ServeManifest, host: str, port: int, api_key: str | None = None) -> list[str]:
    """vLLM's own OpenAI server for the same names: the base model served as `base`, each run a LoRA module."""
    from ftstudio.run_folder import adapter_rank

    command = ["vllm", "serve", manifest.base_model_path, "--host", host, "--port", str(port),
               "--served-model-name", "base"]
    adapters = manifest.adapters
    if adapters:
        rank = max(adapter_rank(folder) for folder in adapters.values())
        command += ["--enable-lora", "--max-lora-rank", str(next((size for size in (8, 16, 32, 64, 128, 256)
                                                                  if size >= rank), 256)),
                    "--max-loras", str(len(adapters)), "--lora-modules",
                    *[f"{name}={folder}" for name, folder in adapters.items()]]
    if api_key:
        command += ["--api-key", api_key]
    return command


def serve_manifest(manifest: ServeManifest, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                   backend: str = "auto", max_batch: int = DEFAULT_MAX_BATCH,
                   max_in_flight: int = DEFAULT_MAX_IN_FLIGHT, api_key: str | None = None, precision: str = "auto",
                   announce=print) -> int:
    """Serve until interrupted (blocking); the exit status."""
    from ftstudio.evaluation.worker import pick_backend

    chosen = pick_backend(backend)
    if chosen == "vllm":
        command = vllm_command(manifest, host, port, api_key)
        announce(f"Starting vLLM's OpenAI server as {' '.join(command[:3])} ... at http://{host}:{port}/v1 "
                 f"(models: {', '.join(manifest.names)})")
        return subprocess.call(command)
    import torch
    import uvicorn

    from ftstudio.shipping.batching import Batcher
    from ftstudio.shipping.engine import AdapterEngine
    from ftstudio.training.device import native_bf16

    if precision == "auto":  # as the review decides it (DecodingSettings.resolved), so answers match
        precision = "bfloat16" if torch.cuda.is_available() and native_bf16()[0] else "float32"
    engine = AdapterEngine(manifest, precision)
    batcher = Batcher(engine, max_batch)
    app = build_api(engine, batcher, max_in_flight, api_key)
    announce(f"Serving {', '.join(engine.names)} at http://{host}:{port}/v1 (OpenAI-compatible; Ctrl+C stops)",
             flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        batcher.stop()
    return 0


def add_server_options(parser) -> None:
    """The options `serve-model` and this module's entry point share."""
    parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (0.0.0.0 to share: put it "
                                                            "behind a key, see README).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Port to listen on.")
    parser.add_argument("--backend", choices=["auto", "transformers", "vllm"], default="auto",
                        help="auto: vLLM's server on a GPU host with vllm installed, else the studio's own.")
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH,
                        help="Requests answered together at most (transformers backend).")
    parser.add_argument("--max-in-flight", type=int, default=DEFAULT_MAX_IN_FLIGHT,
                        help="Requests waiting or being answered at most; more get HTTP 429.")
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_VARIABLE),
                        help=f"Require `Authorization: Bearer KEY` (default: ${API_KEY_VARIABLE}; none: open).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftstudio.shipping.server",
                                     description="Serve a manifest written by `ftstudio serve-model`.")
    parser.add_argument("manifest", type=Path)
    add_server_options(parser)
    args = parser.parse_args(argv)
    return serve_manifest(ServeManifest.read(args.manifest), args.host, args.port, args.backend, args.max_batch,
                          args.max_in_flight, args.api_key)


if __name__ == "__main__":
    sys.exit(main())
