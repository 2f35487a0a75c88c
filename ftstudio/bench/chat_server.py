"""A loopback server that speaks the OpenAI chat-completions protocol, with scripted replies: the judge benchmark's
endpoint and the tests' fake judge. It records every request it gets, retries included."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    content: str = "[[A]]"
    status: int = 200
    delay: float = 0.0              # seconds before answering
    retry_after: str | None = None  # the Retry-After header of a 429 or 503


def usage(body: dict, content: str) -> dict:
    """The usage a real endpoint reports, counted here in words: every message's, and the reply's."""
    prompt = sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [])
    completion = len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class ChatServer:
    """POST /v1/chat/completions. `replies` is a list of Reply (or (status, content) pairs) used in turn, then
    `default`; or a function of the request body (and how many requests came before) giving the Reply."""

    def __init__(self, replies: list | Callable[[dict, int], Reply] | None = None, default: Reply | None = None):
        self.script = replies if callable(replies) else [
            r if isinstance(r, Reply) else Reply(r[1], r[0], retry_after="0" if r[0] == 429 else None)
            for r in (replies or [])]
        self.default = default or Reply()
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                reply = server._next(body, {"path": self.path, "body": body,
                                            "authorization": self.headers.get("Authorization")})
                if reply.delay:
                    time.sleep(reply.delay)
                payload = (json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                                       "model": body.get("model"),
                                       "choices": [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant", "content": reply.content}}],
                                       "usage": usage(body, reply.content)})
                           if reply.status == 200 else json.dumps({"error": {"message": reply.content}})).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    if reply.retry_after is not None:
                        self.send_header("Retry-After", reply.retry_after)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a time-out): fine
                    pass

        ThreadingHTTPServer.daemon_threads = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.request_queue_size = 128
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _next(self, body: dict, record: dict) -> Reply:
        with self._lock:
            before = len(self.requests)
            self.requests.append(record)
            if callable(self.script):
                return self.script(body, before)
            return self.script.pop(0) if self.script else self.default

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
