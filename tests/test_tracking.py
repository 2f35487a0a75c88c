"""Experiment tracking: off by default; a run set to report to trackio records its curves into a local folder under
the studio, offline."""

import json
import sqlite3

import pytest

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.training.config import TrainConfig
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.training.tracking import resolve_report_to, trackers
from ftstudio.versions import SplitPlan, freeze_version


def test_trackers_are_off_by_default_and_the_run_setting_wins():
    assert TrainConfig().report_to == "" and trackers("") == [] and trackers("none") == []
    assert resolve_report_to("", "") == "" and resolve_report_to("none", "trackio") == "none"
    assert resolve_report_to("", "trackio") == "trackio"
    with pytest.raises(ValueError, match="report to takes"):
        TrainConfig(report_to="tensorbored").check()


def test_a_tracker_that_is_not_installed_is_refused_before_the_run():
    pytest.importorskip("trackio")
    try:
        import wandb  # noqa: F401
        pytest.skip("wandb is installed here")
    except ImportError:
        pass
    with pytest.raises(RunError, match="pip install wandb"):
        resolve_report_to("trackio,wandb", "")


def test_trackio_records_a_run_into_a_local_folder_offline(store, settings, tiny_model_dir, tmp_path, monkeypatch):
    pytest.importorskip("trackio")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TRACKIO_DIR", raising=False)
    settings.base_model = str(tiny_model_dir)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Where is pallet {n}?", "response": f"In depot {n % 4}."})
                               for n in range(12)))
    project = store.create_project("replies", "generation")
    import_paths(store, project, [pairs])
    freeze_version(store, project, Template("chat"), SplitPlan((0.8, 0.2, 0.0)))
    manager = RunManager(store, settings)
    run = manager.wait(manager.create_run(project, "v1", TrainConfig(
        max_steps=2, batch_size=4, max_length=64, eval_steps=0, report_to="trackio")), interval=0.5, timeout=600)
    log = (settings.runs_dir / run.name / "worker.log").read_text()
    assert run.status == "finished", log[-3000:]
    databases = list((settings.home / "trackio").glob("*.db"))
    assert [db.stem for db in databases] == ["ftstudio-replies"], log[-2000:]
    with sqlite3.connect(databases[0]) as connection:
        rows = connection.execute("SELECT run_name, metrics FROM metrics").fetchall()
    assert rows and all(name == run.name for name, _ in rows)
    assert any("train/loss" in json.loads(metrics) for _, metrics in rows)
