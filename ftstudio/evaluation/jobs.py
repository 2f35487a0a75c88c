"""Running generation jobs in a child process: write the job folder, start the worker, follow its outputs.

The app (or the CLI) stays the only writer of the database: the child writes outputs.jsonl, this side reads
it as it grows and hands each batch to a callback that records it. Cancel is a CANCEL file the worker obeys
between batches; a worker that dies is noticed when its process exits.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path
from typing import Callable

from ftstudio.child_process import (LOG_FILE, cancel_requested, python_module_command, read_jsonl, read_status,
                                    request_cancel, start_child)


class GenerationError(RuntimeError):
    """A generation job that failed, with the worker's reason."""


def new_job_dir(root: Path) -> Path:
    folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True)
    return folder


class SubprocessBackend:
    """Generation on this machine, in `python -m ftstudio.evaluation.worker` (transformers, or vLLM on a GPU)."""

    def __init__(self, jobs_root: Path, backend: str = "auto", poll_seconds: float = 0.5,
                 timeout: float | None = None):
        self.jobs_root = Path(jobs_root)
        self.backend = backend
        self.poll_seconds = poll_seconds
        self.timeout = timeout  # seconds before a job is killed as hung (None: never; tests set one)

    def generate(self, base_model_path: str, adapters: dict[str, str], requests: list[dict], settings: dict,
                 on_results: Callable[[list[dict]], None], should_stop: Callable[[], bool] = lambda: False,
                 on_started: Callable[[Path], None] | None = None, task: str = "generate") -> str:
        """Run `requests` through the worker and return the final state (finished or cancelled).

        task generate: {cache_key, system, prompt} in, {cache_key, output, seconds} out; score: {cache_key, system,
        prompt, target} in, {cache_key, nll_sum, tokens} out; embed: {cache_key, output, target} in,
        {cache_key, similarity} out."""
        job_dir = new_job_dir(self.jobs_root)
        (job_dir / "job.json").write_text(json.dumps({"base_model_path": base_model_path, "adapters": adapters,
                                                      "settings": settings, "backend": self.backend, "task": task},
                                                     indent=2))
        with (job_dir / "requests.jsonl").open("w", encoding="utf-8") as handle:
            for request in requests:
                handle.write(json.dumps(request, ensure_ascii=False) + "\n")
        process = start_child(python_module_command("ftstudio.evaluation.worker", str(job_dir)), job_dir)
        if on_started:
            on_started(job_dir)
        offset = 0
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        try:
            while True:
                if deadline is not None and time.monotonic() > deadline:
                    raise GenerationError(f"Generation did not finish within {self.timeout:.0f} s; see {job_dir}.")
                exited = process.poll() is not None
                rows, offset = read_jsonl(job_dir / "outputs.jsonl", offset)
                if rows:
                    on_results(rows)
                if exited:
                    break
                if should_stop() and not cancel_requested(job_dir):
                    request_cancel(job_dir)
                try:  # wakes as soon as the child exits, rather than at the next poll
                    process.wait(timeout=self.poll_seconds)
                except subprocess.TimeoutExpired:
                    pass
        except BaseException:
            process.kill()
            raise
        status = read_status(job_dir)
        state = status.get("state")
        if state in ("finished", "cancelled"):
            return state
        reason = status.get("error") or f"the generation process exited with code {process.returncode}"
        raise GenerationError(f"Generation failed: {reason}. Details are in {job_dir / LOG_FILE}.")

