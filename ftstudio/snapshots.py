"""Copy the studio somewhere that outlives the machine, and restore it on start.

Hugging Face Spaces keep no disk across restarts, and the Storage Bucket mounts that replaced persistent disks
are eventually consistent, lock nothing across clients and lose unflushed writes at a crash. So the DuckDB file
stays on local disk, and a snapshot (a consistent copy of the database, plus the run folders: adapters, configs,
curves) goes to a target on an interval and at shutdown. On start, an empty studio restores the latest complete
snapshot.

A snapshot is complete when its manifest is there and the database's checksum matches it. The manifest is
written last, and a folder target stages under a temporary name renamed at the end, so a snapshot cut short by
a kill is never the one restored. Secrets (the judge key, the browser secret) never go into a snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from ftstudio.config import Settings
from ftstudio.store import Store

MANIFEST = "MANIFEST.json"
DATABASE = "studio.duckdb"
# Checkpoints are for resuming a run on this machine; the finished adapter is what a restore needs.
SKIPPED = shutil.ignore_patterns("checkpoint-*", "*.partial", "__pycache__")


class SnapshotTarget(Protocol):
    def put(self, name: str, folder: Path) -> None: ...
    def names(self) -> list[str]: ...
    def get(self, name: str, destination: Path) -> Path: ...


@dataclass
class FolderTarget:
    """Snapshots as folders under `root` (a mounted bucket, another disk, or a test's temporary folder)."""

    root: Path

    def put(self, name: str, folder: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(folder, staging)
        os.replace(staging, self.root / name)  # appears whole, or not at all

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def get(self, name: str, destination: Path) -> Path:
        shutil.copytree(self.root / name, destination)
        return destination


@dataclass
class HubDatasetTarget:
    """Snapshots as folders of a private Hugging Face dataset repository (needs network and HF_TOKEN)."""

    repo_id: str
    token: str | None = None

    def _api(self):
        from huggingface_hub import HfApi

        return HfApi(token=self.token or os.environ.get("HF_TOKEN"))

    def put(self, name: str, folder: Path) -> None:
        api = self._api()
        api.create_repo(self.repo_id, repo_type="dataset", private=True, exist_ok=True)
        # One commit per snapshot: the Hub applies it whole, so a reader sees all of it or none.
        api.upload_folder(repo_id=self.repo_id, repo_type="dataset", folder_path=str(folder), path_in_repo=name,
                          commit_message=f"ftstudio snapshot {name}")

    def names(self) -> list[str]:
        files = self._api().list_repo_files(self.repo_id, repo_type="dataset")
        return sorted({f.split("/")[0] for f in files if f.endswith("/" + MANIFEST)})

    def get(self, name: str, destination: Path) -> Path:
        from huggingface_hub import snapshot_download

        downloaded = snapshot_download(self.repo_id, repo_type="dataset", allow_patterns=[f"{name}/*"],
                                       token=self.token or os.environ.get("HF_TOKEN"))
        shutil.copytree(Path(downloaded) / name, destination)
        return destination


def target_from_spec(spec: str | None) -> SnapshotTarget | None:
    """`FTSTUDIO_SNAPSHOT_TARGET`: a folder path, or `hf://datasets/OWNER/NAME` for a Hub dataset repository."""
    if not spec:
        return None
    if spec.startswith("hf://datasets/"):
        return HubDatasetTarget(spec.removeprefix("hf://datasets/"))
    return FolderTarget(Path(spec))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def take_snapshot(store: Store, settings: Settings, target: SnapshotTarget) -> str:
    """Copy the database (consistently, while the app runs) and the run folders to `target`; returns its name."""
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    with tempfile.TemporaryDirectory(prefix="ftstudio-snapshot-") as staging:
        folder = Path(staging) / name
        folder.mkdir()
        store.copy_to(folder / DATABASE)
        if settings.runs_dir.exists():
            shutil.copytree(settings.runs_dir, folder / "runs", ignore=SKIPPED, symlinks=False)
        manifest = {"name": name, "database_sha256": _sha256(folder / DATABASE),
                    "database_bytes": (folder / DATABASE).stat().st_size, "created_at": time.time()}
        (folder / MANIFEST).write_text(json.dumps(manifest))  # last: its presence marks the snapshot whole
        target.put(name, folder)
    return name


def _complete(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return _sha256(folder / DATABASE) == manifest["database_sha256"]
    except (OSError, ValueError, KeyError):
        return False


def restore_latest(settings: Settings, target: SnapshotTarget) -> str | None:
    """Into a studio with no database yet, the newest complete snapshot; returns its name (None: nothing to do)."""
    if settings.database_path.exists():
        return None
    for name in reversed(target.names()):
        with tempfile.TemporaryDirectory(prefix="ftstudio-restore-") as staging:
            folder = target.get(name, Path(staging) / name)
            if not _complete(folder):
                continue  # cut short, or damaged on the way: try the one before
            settings.ensure_dirs()
            if (folder / "runs").exists():
                shutil.copytree(folder / "runs", settings.runs_dir, dirs_exist_ok=True)
            partial = settings.database_path.with_name(DATABASE + ".restoring")
            shutil.copyfile(folder / DATABASE, partial)
            os.replace(partial, settings.database_path)
            return name
    return None


class SnapshotSchedule:
    """Take a snapshot every `interval` seconds (when something changed) and once more at shutdown."""

    def __init__(self, store: Store, settings: Settings, target: SnapshotTarget, interval: float):
        self.store, self.settings, self.target, self.interval = store, settings, target, interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last_change = None
        self.taken: list[str] = []
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="ftstudio-snapshots", daemon=True)

    def start(self) -> "SnapshotSchedule":
        self._thread.start()
        return self

    def _changed(self):
        """When the database (or its write-ahead log) last changed on disk; run folders change with it."""
        files = [self.settings.database_path, self.settings.database_path.with_name(DATABASE + ".wal")]
        return max((f.stat().st_mtime_ns for f in files if f.exists()), default=None)

    def snapshot_now(self) -> str | None:
        with self._lock:
            try:
                change = self._changed()
                if self.taken and change == self._last_change:
                    return None  # nothing new since the last one
                name = take_snapshot(self.store, self.settings, self.target)
                self._last_change = change
                self.taken.append(name)
                return name
            except Exception as error:  # noqa: BLE001 - a failed upload must not take the app down
                self.errors.append(f"{type(error).__name__}: {error}")
                return None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.snapshot_now()

    def stop(self) -> None:
        """At shutdown: stop the timer and take the last snapshot."""
        self._stop.set()
        self.snapshot_now()
