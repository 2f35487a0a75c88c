"""A finished run drafting labels in the app's own process, without a server: its adapter on one loaded copy of its
base model, prompts rendered with its own template, so its drafts read as its review answers do."""

from __future__ import annotations

import threading
from typing import Callable

from ftstudio.evaluation.generations import run_spec, tuned_system
from ftstudio.shipping.engine import AdapterEngine
from ftstudio.shipping.manifest import ServeManifest, ServedModel
from ftstudio.store import Run, Store

MAX_DRAFT_TOKENS = 160


class RunDrafters:
    """The runs that draft in one app (one instance per app, passed in: never a module global). Runs of one base
    model share one loaded copy of it, each an adapter switched on by name."""

    def __init__(self):
        self._engines: dict[str, AdapterEngine] = {}
        self._lock = threading.Lock()

    def generate_function(self, store: Store, run: Run) -> Callable[[list[str]], list[str]]:
        """The run's `generate`: prompts in (each a user message), greedy drafts out. Loads on the first call."""
        system = tuned_system(store, run)  # refuses a classifier or a run without an adapter, saying why
        served = ServedModel(run.system, system.template.to_dict(), system.adapter_dir, run.id)
        base_path = run_spec(run).base_model_path or run.base_model

        def generate(prompts: list[str]) -> list[str]:
            with self._lock:  # one load per base model
                if base_path not in self._engines:
                    self._engines[base_path] = AdapterEngine(ServeManifest(base_path, [served], run.id))
                engine = self._engines[base_path]
            engine.add_model(served)
            rendered = [engine.prompt(served.name, [{"role": "user", "content": prompt}]) for prompt in prompts]
            return [answer.text for answer in engine.generate(served.name, rendered, [MAX_DRAFT_TOKENS] * len(rendered))]

        return generate
