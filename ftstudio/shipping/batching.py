"""Requests that arrive together are answered together: a collector thread takes the oldest waiting request, waits a
few milliseconds for others to the same model that decode the same way (up to a batch), and generates them in one
call. On a CPU a batch of 8 costs far less than 8 single calls (docs/benchmarks.md, `ftstudio bench serve`).

Written here, not taken from a library: the serving libraries that batch (vLLM, TGI) need a GPU, and this is the
one loop the transformers backend needs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ftstudio.shipping.engine import AdapterEngine, Answer, Sampling


@dataclass
class Job:
    """One chat request on its way through the collector."""

    model: str
    prompt: str
    max_new_tokens: int
    sampling: Sampling
    on_text: Callable[[str], None] | None = None  # streaming: each new piece of the answer
    on_done: Callable[[Answer | None, BaseException | None], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    answer: Answer | None = None
    error: BaseException | None = None

    @property
    def key(self) -> tuple:
        return self.model, self.sampling

    def wait(self, timeout: float | None = None) -> Answer:
        if not self.done.wait(timeout):
            raise TimeoutError("No answer in time.")
        if self.error is not None:
            raise self.error
        return self.answer


class Batcher:
    """The collector: one thread that generates, batches of up to `max_batch` requests per model."""

    def __init__(self, engine: AdapterEngine, max_batch: int = 8, window_seconds: float = 0.005):
        self.engine, self.max_batch, self.window = engine, max(1, max_batch), window_seconds
        self._pending: list[Job] = []
        self._condition = threading.Condition()
        self._stopped = False
        self.batches: list[int] = []  # the size of every batch generated (the benchmark reports them)
        self._thread = threading.Thread(target=self._loop, name="ftstudio-serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Job:
        with self._condition:
            self._pending.append(job)
            self._condition.notify_all()
        return job

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        self._thread.join(timeout=30)

    def _next_batch(self) -> list[Job] | None:
        with self._condition:
            while not self._pending and not self._stopped:
                self._condition.wait()
            if self._stopped:
                return None
            key = self._pending[0].key
            deadline = time.monotonic() + self.window
            while True:
                same = [job for job in self._pending if job.key == key]
                left = deadline - time.monotonic()
                if len(same) >= self.max_batch or left <= 0:
                    break
                self._condition.wait(left)
            batch = same[:self.max_batch]
            self._pending = [job for job in self._pending if not any(job is chosen for chosen in batch)]
            return batch

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            self.batches.append(len(batch))
            try:
                answers = self.engine.generate(batch[0].model, [job.prompt for job in batch],
                                               [job.max_new_tokens for job in batch], batch[0].sampling,
                                               [job.on_text for job in batch])
                errors = [None] * len(batch)
            except Exception as error:  # every request of the batch hears why (the server answers 500)
                answers, errors = [None] * len(batch), [error] * len(batch)
            for job, answer, error in zip(batch, answers, errors):
                job.answer, job.error = answer, error
                job.done.set()
                if job.on_done is not None:
                    job.on_done(answer, error)
