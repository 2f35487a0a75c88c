"""Snapshots of a running studio to a folder target, restored on start; a snapshot cut short is never used."""

from __future__ import annotations

import shutil

from ftstudio.config import Settings
from ftstudio.snapshots import (DATABASE, MANIFEST, FolderTarget, SnapshotSchedule, restore_latest, take_snapshot,
                                target_from_spec)
from ftstudio.store import open_store


def test_a_snapshot_restores_the_studio_on_a_fresh_machine(settings, store, tmp_path):
    project = store.create_project("posts", "generation")
    (settings.runs_dir / "run-1" / "adapter").mkdir(parents=True)
    (settings.runs_dir / "run-1" / "adapter" / "adapter_config.json").write_text("{}")
    (settings.runs_dir / "run-1" / "checkpoint-5").mkdir()
    (settings.home / "secrets.json").write_text('{"judge": "sk-secret"}')
    target = FolderTarget(tmp_path / "bucket")
    first = take_snapshot(store, settings, target)
    store.rename_project(project.id, "posts v2")  # written while the app keeps running
    second = take_snapshot(store, settings, target)
    assert target.names() == sorted([first, second])
    assert not (target.root / second / "runs" / "run-1" / "checkpoint-5").exists()
    assert "sk-secret" not in "".join(p.read_text(errors="ignore") for p in (target.root / second).rglob("*.json"))

    fresh = Settings(home=tmp_path / "new-machine")
    assert restore_latest(fresh, target) == second
    restored = open_store(fresh.database_path)
    try:
        assert [p.name for p in restored.list_projects()] == ["posts v2"]
    finally:
        restored.close()
    assert (fresh.runs_dir / "run-1" / "adapter" / "adapter_config.json").exists()
    assert restore_latest(fresh, target) is None  # a studio that has its database keeps it


def test_a_snapshot_cut_short_is_never_restored(settings, store, tmp_path):
    store.create_project("kept", "generation")
    target = FolderTarget(tmp_path / "bucket")
    good = take_snapshot(store, settings, target)
    store.create_project("later", "generation")
    cut = take_snapshot(store, settings, target)
    (target.root / cut / MANIFEST).unlink()  # killed before the manifest was written
    torn = target.root / "99991231T235959000000Z"  # or a database that arrived damaged
    shutil.copytree(target.root / good, torn)
    with (torn / DATABASE).open("r+b") as handle:
        handle.seek(100)
        handle.write(b"garbage")
    (target.root / ".20991231T000000Z.partial").mkdir()  # and a folder still staging
    fresh = Settings(home=tmp_path / "restored")
    assert restore_latest(fresh, target) == good
    restored = open_store(fresh.database_path)
    try:
        assert [p.name for p in restored.list_projects()] == ["kept"]
    finally:
        restored.close()


def test_the_schedule_snapshots_changes_and_once_more_at_shutdown(settings, store, tmp_path):
    target = target_from_spec(str(tmp_path / "bucket"))
    schedule = SnapshotSchedule(store, settings, target, interval=3600)
    store.create_project("a", "generation")
    assert schedule.snapshot_now() is not None
    assert schedule.snapshot_now() is None  # nothing changed since
    store.create_project("b", "generation")
    schedule.stop()
    assert len(schedule.taken) == 2 and not schedule.errors
