"""SkyPilot tasks from a portable run folder, written with --dry-run and read back with SkyPilot's own parser.
Nothing here contacts a cloud: sky.Task.from_yaml only parses and validates."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from ftstudio.cli import main
from ftstudio.training.skypilot import CloudError, CloudLaunch, cluster_name


@pytest.fixture
def dry_run(tmp_path, tiny_model_dir, capsys):
    home = tmp_path / "home"
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"prompt": f"Idea {n}", "completion": f"Post about idea {n}."})
                               for n in range(12)))
    common = ["--home", str(home), "--base-model", str(tiny_model_dir)]
    assert main([*common, "import", str(pairs), "--project", "posts"]) == 0
    assert main([*common, "freeze", "--project", "posts", "--template", "alpaca"]) == 0
    capsys.readouterr()
    task = tmp_path / "out" / "task.yaml"
    assert main([*common, "train", "--project", "posts", "--version", "v1", "--max-steps", "3", "--launch",
                 "skypilot", "--gpus", "L4:1", "--cloud", "gcp", "--dry-run", str(task), "--json"]) == 0
    return json.loads(capsys.readouterr().out), task, tiny_model_dir


def test_dry_run_writes_a_task_that_trains_the_run_folder_and_launches_nothing(dry_run):
    payload, task_path, model_dir = dry_run
    assert payload["status"] == "prepared" and payload["task"] == str(task_path)
    task = yaml.safe_load(task_path.read_text())
    remote = f"~/ftstudio/runs/{payload['name']}"
    assert f"ftstudio train --run-dir {remote}" in task["run"]
    assert task["file_mounts"][remote] == payload["run_dir"]  # the run folder goes up ...
    assert task["file_mounts"][str(model_dir)] == str(model_dir)  # ... with the local base model at its path
    source = task["file_mounts"]["~/ftstudio/src"]
    assert (task_path.parent / "task-src" / "pyproject.toml").exists() and source.endswith("task-src")
    assert "pip install" in task["setup"] and "~/ftstudio/src" in task["setup"]
    assert task["resources"] == {"accelerators": "L4:1", "cloud": "gcp",
                                 "autostop": {"idle_minutes": 10, "down": True}}
    assert not (task_path.parent / "task-src" / ".venv").exists()


def test_skypilots_own_parser_reads_the_task(dry_run):
    sky = pytest.importorskip("sky", reason="skypilot is an optional extra (pip install 'ftstudio[cloud]')")
    payload, task_path, _ = dry_run
    task = sky.Task.from_yaml(str(task_path))
    assert "ftstudio train --run-dir" in task.run
    (resources,) = task.resources
    assert resources.accelerators == {"L4": 1} and str(resources.cloud).lower() == "gcp"
    assert any(target.endswith(payload["name"]) for target in task.file_mounts)


def test_launch_settings_are_checked():
    with pytest.raises(CloudError, match="NAME:COUNT"):
        CloudLaunch(gpus="two L4s").check()
    assert CloudLaunch(gpus="A100:2").gpu_count == 2
    name = cluster_name("20261205-081500-My_Project-v1")
    assert name == "ftstudio-20261205-081500-my-project-v1" and len(cluster_name("x" * 200)) <= 60


@pytest.mark.skipif(importlib.util.find_spec("sky") is not None,
                    reason="with SkyPilot installed this would launch a real cluster")
def test_the_train_tab_starts_a_cloud_run_whose_worker_says_what_is_missing(live_app, tmp_path):
    """The Train tab's "Run on: a cloud GPU" over the API: the run is prepared, marked for the cloud and started
    with the cloud worker, which (SkyPilot missing here) fails with what to install; nothing is launched."""
    from dataclasses import asdict

    from gradio_client import Client

    from ftstudio.importing import import_paths
    from ftstudio.templates import Template
    from ftstudio.training.config import TrainConfig
    from ftstudio.ui.train_settings import SETTING_FIELDS
    from ftstudio.versions import SplitPlan, freeze_version
    from tests.conftest import wait_until

    url, store = live_app
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"prompt": f"Idea {n}", "completion": f"Post {n}."}) for n in range(10)))
    project = store.create_project("posts", "generation")
    import_paths(store, project, [pairs])
    freeze_version(store, project, Template("alpaca"), SplitPlan((0.8, 0.2, 0.0)))
    values = asdict(TrainConfig(max_steps=2))
    Client(url, verbose=False).predict("posts", "v1", "sft", "lora", "A100:2", "", *[values[n] for n in SETTING_FIELDS],
                                       api_name="/train_cloud")
    (run,) = store.list_runs(project.id)
    wait_until(lambda: store.get_run(run.id).status == "failed", timeout=120, what="the cloud worker's verdict")
    run = store.get_run(run.id)
    assert "SkyPilot is not installed" in run.error and "pip install" in run.error
    launch = yaml.safe_load((Path(run.run_dir) / "cloud.yaml").read_text())
    assert launch["gpus"] == "A100:2" and launch["autostop_minutes"] == 10
