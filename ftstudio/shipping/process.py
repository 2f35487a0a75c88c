"""The app's OpenAI-compatible server of a run, as a child process: started and stopped from the browser, its URL
and client snippets shown there. The app works out the manifest (it owns the database); the child only serves."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ftstudio.child_process import LOG_FILE, python_module_command, start_child
from ftstudio.shipping.served import serving_manifest
from ftstudio.store import Run, Store


class ServingError(RuntimeError):
    """A server that could not start, with its last log lines."""


@dataclass
class RunningServer:
    run_id: int
    url: str        # ends in /v1
    models: list[str]
    process: subprocess.Popen
    folder: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether an OpenAI-compatible server lists its models at `url` (…/v1)."""
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def client_snippets(url: str, model: str) -> dict[str, str]:
    """A `curl` command and an `openai` Python snippet that ask the served model something."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}]})
    curl = (f"curl {url}/chat/completions \\\n  -H 'Content-Type: application/json' \\\n  -d '{body}'")
    python = (f"from openai import OpenAI\n\nclient = OpenAI(base_url=\"{url}\", api_key=\"unused\")\n"
              f"answer = client.chat.completions.create(\n    model=\"{model}\",\n"
              f"    messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n)\n"
              "print(answer.choices[0].message.content)")
    return {"curl": curl, "python": python}


class Servers:
    """The servers one app started, one per run at most (one instance per app, passed in: never a module global)."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self._running: dict[int, RunningServer] = {}
        self._lock = threading.Lock()

    def get(self, run_id: int) -> RunningServer | None:
        server = self._running.get(run_id)
        return server if server is not None and server.alive else None

    def start(self, store: Store, run: Run, port: int, host: str = "127.0.0.1", timeout: float = 300.0,
              backend: str = "transformers") -> RunningServer:
        """Start serving `run` (and the base model and its sibling runs) and wait until it answers."""
        with self._lock:
            running = self.get(run.id)
            if running is not None:
                return running
            manifest = serving_manifest(store, run)
            folder = self.home / "serving" / run.system
            folder.mkdir(parents=True, exist_ok=True)
            path = manifest.write(folder / "manifest.json")
            command = python_module_command("ftstudio.shipping.server", str(path), "--host", host, "--port",
                                            str(port), "--backend", backend)
            process = start_child(command, folder, new_session=True)
            server = RunningServer(run.id, f"http://{host}:{port}/v1", manifest.names, process, folder)
            self._running[run.id] = server
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not server.alive:
                log = (folder / LOG_FILE).read_text(errors="replace")[-1500:]
                raise ServingError(f"The server of run {run.id} stopped while starting (is port {port} taken?). "
                                   f"Its log ends:\n{log}")
            if answers(server.url):
                return server
            time.sleep(0.5)
        self.stop(run.id)
        raise ServingError(f"The server of run {run.id} did not answer within {timeout:.0f} s; it was stopped.")

    def stop(self, run_id: int) -> bool:
        """Stop the run's server; False when none was running."""
        with self._lock:
            server = self._running.pop(run_id, None)
        if server is None or not server.alive:
            return False
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
        return True

    def stop_all(self) -> None:
        for run_id in list(self._running):
            self.stop(run_id)
