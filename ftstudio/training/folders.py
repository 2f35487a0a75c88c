"""Run-folder helpers by path, for callers that hold a path rather than a RunFolder (the layout lives in
ftstudio/run_folder.py, the child protocol in ftstudio/child_process.py)."""

from __future__ import annotations

from pathlib import Path

from ftstudio.child_process import CANCEL_FILE, STATUS_FILE, read_jsonl, read_status, write_status
from ftstudio.run_folder import COMPLETE_MARKER, RunFolder

__all__ = ["CANCEL_FILE", "COMPLETE_MARKER", "STATUS_FILE", "checkpoints", "latest_complete_checkpoint",
           "read_jsonl", "read_metrics", "read_status", "write_status"]


def checkpoints(run_dir: Path) -> list[Path]:
    return RunFolder(run_dir).checkpoints()


def latest_complete_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint whose save finished; one cut short by a kill has no COMPLETE marker."""
    return RunFolder(run_dir).latest_complete_checkpoint()


def read_metrics(run_dir: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Metrics lines appended since byte `offset`, and the new offset."""
    return RunFolder(run_dir).read_metrics(offset)
