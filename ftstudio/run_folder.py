"""The run folder: the one place that knows its layout and its run.yaml.

A run folder is all a training child reads and writes, and what the app, generation, merge and export read back:

    run.yaml            what the run is (RunSpec): settings, base model, dataset version, recipe
    data/SPLIT.jsonl    the frozen version's rows, as the recipe trains on them
    start_adapter/      a DPO run's starting adapter (a copy, so the folder trains anywhere)
    metrics.jsonl       one line per log, appended by the child
    status.json         the child's state (child_process.write_status)
    CANCEL              the app's request to stop
    checkpoints/        checkpoint-N/, each with a COMPLETE marker once fully written
    adapter/            the trained LoRA adapter (PEFT's format); model/ for full fine-tuning, features/ for the
                        feature baseline, merged/ once merged
    worker.log          the child's output
    accelerate.yaml     a run on several processes: accelerate's config (training/distributed.py)
    cloud.yaml          a run on a cloud GPU: its SkyPilot launch settings (training/skypilot.py)

No database here, and no ML library: training and generation children import it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from ftstudio.child_process import (CANCEL_FILE, LOG_FILE, STATUS_FILE, cancel_requested, read_jsonl, read_status,
                                    write_status)

SPEC_FILE = "run.yaml"
ADAPTER_CONFIG = "adapter_config.json"
COMPLETE_MARKER = "COMPLETE"


class RunFolderError(ValueError):
    """A run folder that is missing or incomplete, with what to do."""


@dataclass
class RunSpec:
    """run.yaml: what a run is. Keys this version does not know (a newer studio's) are kept in `extra`."""

    config: dict = field(default_factory=dict)  # TrainConfig.to_dict(); training/ turns it back into TrainConfig
    base_model: str = ""
    base_model_path: str = ""
    project: dict = field(default_factory=dict)  # {name, task_type}
    dataset_version: dict = field(default_factory=dict)  # {name, content_hash, counts, template, kind}
    libraries: dict = field(default_factory=dict)
    created: str = ""
    recipe: str | None = None  # absent in folders written before recipes: causal SFT or DPO by the objective
    recipe_options: dict = field(default_factory=dict)
    labels: list[str] | None = None  # classifiers: the project's labels, in head order
    class_weights: dict | None = None
    start_run: int | None = None  # DPO: the run whose adapter it starts from
    evaluation_version_id: int | None = None  # DPO: the input/output version whose test split reviews it
    world_size: int | None = None  # training processes (data parallel through accelerate)
    global_batch: int | None = None  # examples per optimizer step over every process
    extra: dict = field(default_factory=dict)

    @property
    def objective(self) -> str:
        return (self.config or {}).get("objective", "sft")

    @property
    def template(self) -> dict | None:
        """The template the run's prompts were rendered with (a dict for templates.Template.from_dict)."""
        return (self.dataset_version or {}).get("template")

    @property
    def trained_on_preferences(self) -> bool:
        return (self.dataset_version or {}).get("kind") == "preferences"

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "extra"}
        for optional in ("recipe", "labels", "class_weights", "start_run", "evaluation_version_id", "world_size",
                         "global_batch"):
            if data[optional] is None:
                del data[optional]
        return {**data, **self.extra}

    @classmethod
    def from_dict(cls, data: dict | None) -> "RunSpec":
        known = {f.name for f in fields(cls)} - {"extra"}
        data = data or {}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})


def is_adapter(folder: Path) -> bool:
    """Does `folder` hold a PEFT adapter?"""
    return (Path(folder) / ADAPTER_CONFIG).exists()


def adapter_rank(folder: Path, default: int = 16) -> int:
    """The LoRA rank an adapter folder was trained with."""
    return json.loads((Path(folder) / ADAPTER_CONFIG).read_text()).get("r", default)


class RunFolder:
    """The paths of one run folder, and its run.yaml as a RunSpec."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # --- run.yaml -------------------------------------------------------------------

    @property
    def spec_path(self) -> Path:
        return self.path / SPEC_FILE

    def has_spec(self) -> bool:
        return self.spec_path.exists()

    @property
    def spec(self) -> RunSpec:
        """run.yaml, read afresh; RunFolderError when the folder has none."""
        if not self.spec_path.exists():
            raise RunFolderError(f"The run folder {self.path} has no {SPEC_FILE}: was it moved or deleted? Point at "
                                 "a run folder made by ftstudio.")
        return RunSpec.from_dict(yaml.safe_load(self.spec_path.read_text()))

    def write_spec(self, spec: RunSpec) -> None:
        self.spec_path.write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True))

    # --- data -----------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    def split_path(self, split: str) -> Path:
        return self.data_dir / f"{split}.jsonl"

    def has_split(self, split: str) -> bool:
        return self.split_path(split).exists()

    def read_split(self, split: str) -> list[dict]:
        """The rows of one split ([] when the version has none)."""
        path = self.split_path(split)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def write_split(self, split: str, rows: list[dict]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.split_path(split).open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    # --- what the child writes --------------------------------------------------------

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def append_metrics(self, record: dict) -> None:
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def read_metrics(self, offset: int = 0) -> tuple[list[dict], int]:
        """Metrics lines appended since byte `offset`, and the new offset."""
        return read_jsonl(self.metrics_path, offset)

    @property
    def status_path(self) -> Path:
        return self.path / STATUS_FILE

    def write_status(self, state: str, **fields_) -> None:
        write_status(self.path, state, **fields_)

    def read_status(self) -> dict:
        return read_status(self.path)

    @property
    def cancel_path(self) -> Path:
        return self.path / CANCEL_FILE

    def cancel_requested(self) -> bool:
        return cancel_requested(self.path)

    @property
    def log_path(self) -> Path:
        return self.path / LOG_FILE

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    def checkpoints(self) -> list[Path]:
        folder = self.checkpoints_dir
        found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()] if folder.is_dir() else []
        return sorted(found, key=lambda p: int(p.name.split("-")[-1]))

    def latest_complete_checkpoint(self) -> Path | None:
        """The newest checkpoint whose save finished; one cut short by a kill has no COMPLETE marker."""
        complete = [p for p in self.checkpoints() if (p / COMPLETE_MARKER).exists()]
        return complete[-1] if complete else None

    # --- what a run made ---------------------------------------------------------------

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    def has_adapter(self) -> bool:
        return is_adapter(self.adapter_dir)

    @property
    def start_adapter_dir(self) -> Path:
        return self.path / "start_adapter"

    @property
    def model_dir(self) -> Path:
        """A fully fine-tuned model (no adapter)."""
        return self.path / "model"

    @property
    def features_dir(self) -> Path:
        """The feature baseline's fitted regression."""
        return self.path / "features"

    @property
    def merged_dir(self) -> Path:
        return self.path / "merged"
