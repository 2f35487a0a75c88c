"""The run folder's files, read and written by the worker and the app alike (no database here)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

CANCEL_FILE = "CANCEL"
COMPLETE_MARKER = "COMPLETE"
STATUS_FILE = "status.json"


def write_status(run_dir: Path, state: str, **fields) -> None:
    """Atomically replace status.json (a reader never sees half a file)."""
    status = {"state": state, "updated": time.time(), **fields}
    temporary = run_dir / f".{STATUS_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(status))
    os.replace(temporary, run_dir / STATUS_FILE)


def read_status(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def checkpoints(run_dir: Path) -> list[Path]:
    folder = run_dir / "checkpoints"
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()] if folder.is_dir() else []
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def latest_complete_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint whose save finished; one cut short by a kill has no COMPLETE marker."""
    complete = [p for p in checkpoints(run_dir) if (p / COMPLETE_MARKER).exists()]
    return complete[-1] if complete else None


def read_jsonl(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Lines appended to a JSONL file since byte `offset`, and the new offset; a half-written last line waits."""
    if not path.exists():
        return [], offset
    with path.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    records = []
    for line in complete.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records, offset + len(complete)


def read_metrics(run_dir: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Metrics lines appended since byte `offset`, and the new offset."""
    return read_jsonl(run_dir / "metrics.jsonl", offset)
