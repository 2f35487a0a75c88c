"""A project with a finished run whose adapter is real (random, so tuned answers differ from the base's),
and a fake generation backend that speaks the backend protocol without loading a model."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.training.config import TrainConfig
from ftstudio.training.folders import write_status
from ftstudio.training.manager import RunManager
from ftstudio.versions import SplitPlan, freeze_version


def random_adapter(base_model_dir: Path, folder: Path, seed: int = 1) -> Path:
    """A LoRA adapter with random (not zero) B matrices: switching it on changes the model's answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_model_dir),
                           LoraConfig(r=8, lora_alpha=64, target_modules="all-linear", init_lora_weights=False,
                                      task_type="CAUSAL_LM"))
    model.save_pretrained(folder)
    return folder


def finished_run(store, settings, base_model_dir: Path, tmp_path: Path, examples: int = 20, name: str = "Replies",
                 template: Template | None = None):
    """Import question/answer pairs, freeze them (a test split of 20%), and record a finished run with an adapter."""
    pairs = tmp_path / f"{name}-pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Where is pallet {n}?", "response": f"In depot {n % 3}.",
                                           "region": "north" if n % 2 else "south"}) for n in range(examples)))
    project = store.find_project(name) or store.create_project(name, "generation")
    import_paths(store, project, [pairs])
    version = freeze_version(store, project, template or Template("chat"), SplitPlan((0.6, 0.2, 0.2)))
    settings.base_model = str(base_model_dir)
    manager = RunManager(store, settings)
    run_id = manager.create_run(project, version.name, TrainConfig(max_steps=1), check_memory=False, queue=False)
    run = store.get_run(run_id)
    random_adapter(base_model_dir, Path(run.run_dir) / "adapter", seed=run_id)
    write_status(Path(run.run_dir), "finished", step=1, max_steps=1)
    store.update_run(run_id, status="finished", step=1, max_steps=1, finished_at=datetime.now())
    return project, store.get_run(run_id)


class FakeBackend:
    """Answers every request with text naming its system, batch by batch, through the real callbacks."""

    def __init__(self, batch_size: int = 4, stop_after_batches: int | None = None):
        self.batch_size = batch_size
        self.stop_after_batches = stop_after_batches
        self.calls: list[list[dict]] = []
        self.answered = 0

    def generate(self, base_model_path, adapters, requests, settings, on_results, should_stop=lambda: False,
                 on_started=None):
        self.calls.append(requests)
        for index, start in enumerate(range(0, len(requests), self.batch_size)):
            if should_stop() or (self.stop_after_batches is not None and index >= self.stop_after_batches):
                return "cancelled"
            batch = requests[start:start + self.batch_size]
            # Unique answers that name no system: a test finds who wrote one through the store, as results do.
            on_results([{"cache_key": r["cache_key"], "output": f"Answer {self.answered + i}: check depot {i % 3}.",
                         "seconds": 0.01} for i, r in enumerate(batch)])
            self.answered += len(batch)
        return "finished"
