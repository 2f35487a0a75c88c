"""Progress and ETA from a run folder's metrics, as the Train tab shows them."""

import json
from types import SimpleNamespace

from ftstudio.training.results import curves, progress_text


def _write(run_dir, records):
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_eta_leaves_out_the_slow_first_step_and_follows_a_resumed_clock(tmp_path):
    # Step 1 took 90 s (loading and compiling), then 2 s a step.
    records = [{"step": 1, "max_steps": 101, "time": 90.0, "loss": 3.0}]
    records += [{"step": s, "max_steps": 101, "time": 90.0 + 2 * (s - 1), "loss": 2.0} for s in range(2, 12)]
    _write(tmp_path, records)
    curve = curves(tmp_path)
    assert curve["seconds_per_step"] == 2.0
    run = SimpleNamespace(id=7, status="running", step=11, max_steps=101, train_loss=2.0, eval_loss=None)
    assert "about 3 min 0 s left" in progress_text(run, curve)  # 90 steps x 2 s, not 90 x (110 s / 11)

    # Resumed: the new worker's clock starts at 0 and steps take 3 s.
    records += [{"step": s, "max_steps": 101, "time": 30.0 + 3 * (s - 12), "loss": 1.5} for s in range(12, 16)]
    _write(tmp_path, records)
    assert curves(tmp_path)["seconds_per_step"] == 3.0


def test_the_progress_line_names_the_workers_precision_without_moving_the_step(tmp_path):
    records = [{"dtype": "bfloat16", "compiled": True, "precision_why": "measured", "compile_why": "on"}]
    records += [{"step": s, "max_steps": 10, "time": 2.0 * s, "loss": 2.0} for s in range(1, 4)]
    _write(tmp_path, records)
    curve = curves(tmp_path)
    assert curve["step"] == 3 and curve["train"] == [(1, 2.0), (2, 2.0), (3, 2.0)]
    run = SimpleNamespace(id=1, status="running", step=3, max_steps=10, train_loss=2.0, eval_loss=None)
    assert progress_text(run, curve).endswith("bf16, compiled · loss 2.000")
    # A resumed worker that decides otherwise (compile: off for the few steps left) is what the line shows.
    _write(tmp_path, records + [{"dtype": "bfloat16", "compiled": False, "precision_why": "", "compile_why": ""}])
    assert curves(tmp_path)["step"] == 3
    assert "bf16 · " in progress_text(run, curves(tmp_path)) and "compiled" not in progress_text(run, curves(tmp_path))


def test_no_eta_before_two_timed_steps(tmp_path):
    _write(tmp_path, [{"step": 1, "max_steps": 10, "time": 50.0, "loss": 3.0}])
    assert curves(tmp_path)["seconds_per_step"] is None
