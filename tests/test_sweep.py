"""Sweeps: a grid parsed into typed settings, and a sweep of 2 runs on the tiny Llama that finishes ranked."""

import json

import pytest

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.training.sweep import SweepError, grid_points, parse_grid
from ftstudio.versions import SplitPlan, freeze_version


def test_a_grid_is_typed_and_checked():
    grid = parse_grid(["learning_rate=1e-4,3e-4", "r=8,16", "num-generations=2"])
    assert grid == {"learning_rate": [1e-4, 3e-4], "r": [8, 16], "num_generations": [2]}
    assert len(grid_points(grid)) == 4 and grid_points(grid)[1] == {"learning_rate": 1e-4, "r": 16,
                                                                     "num_generations": 2}
    with pytest.raises(SweepError, match="no run setting"):
        parse_grid(["learning_rat=1e-4"])
    with pytest.raises(SweepError, match="takes int"):
        parse_grid(["r=eight"])


def test_a_sweep_of_two_runs_finishes_ranked_by_validation_loss(store, settings, tiny_model_dir, tmp_path, capsys):
    from ftstudio.cli import main

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Where is pallet {n}?", "response": f"In depot {n % 4}."})
                               for n in range(20)))
    project = store.create_project("replies", "generation")
    import_paths(store, project, [pairs])
    freeze_version(store, project, Template("chat"), SplitPlan((0.8, 0.2, 0.0)))
    store.close()
    code = main(["--home", str(settings.home), "--base-model", str(tiny_model_dir), "sweep", "--project", "replies",
                 "--version", "v1", "--grid", "learning_rate=1e-4,5e-3", "--max-steps", "2", "--max-length", "64",
                 "--batch-size", "4", "--eval-steps", "0", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    assert [run["status"] for run in summary["runs"]] == ["finished", "finished"]
    assert [run["settings"] for run in summary["runs"]] == [{"learning_rate": 1e-4}, {"learning_rate": 5e-3}]
    assert summary["ranked_by"] == "validation_loss" and all(run["validation_loss"] for run in summary["runs"])
    best = min(summary["runs"], key=lambda run: run["validation_loss"])
    assert summary["best"] == best["id"] and best["rank"] == 1
    assert main(["--home", str(settings.home), "sweep", "--project", "replies", "--show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["best"] == best["id"]
