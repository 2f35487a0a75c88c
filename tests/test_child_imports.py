"""Training and generation children read and write only their folders: they never import the store or duckdb."""

import json
import subprocess
import sys
from pathlib import Path

from ftstudio.run_folder import RunFolder, RunSpec
from ftstudio.training.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys
import ftstudio.evaluation.worker
from ftstudio.training.worker import main
code = main([sys.argv[1]])
print("EXIT", code)
print("LEAKED", sorted(m for m in sys.modules if m == "duckdb" or m.startswith("ftstudio.store")))
"""


def dpo_run_folder(path: Path, model_dir: Path, start_adapter: bool = False) -> RunFolder:
    folder = RunFolder(path)
    path.mkdir()
    config = TrainConfig(objective="dpo", max_steps=1, batch_size=2, save_steps=1, eval_steps=0,
                         max_prompt_length=16, max_completion_length=16, compute_dtype="float32")
    pairs = [{"prompt": f"question {i}", "chosen": f"a good answer {i}", "rejected": f"bad {i}"} for i in range(4)]
    folder.write_split("train", pairs)
    folder.write_spec(RunSpec(config=config.to_dict(), base_model=str(model_dir), base_model_path=str(model_dir),
                              project={"name": "p", "task_type": "generation"}, recipe="dpo",
                              dataset_version={"name": "prefs", "kind": "preferences"}))
    return folder


def test_a_dpo_training_child_and_a_generation_child_never_import_the_store(tmp_path, tiny_model_dir):
    folder = dpo_run_folder(tmp_path / "run", tiny_model_dir)
    child = subprocess.run([sys.executable, "-c", CHILD, str(folder.path)], capture_output=True, text=True,
                           cwd=ROOT, timeout=600)
    assert "EXIT 0" in child.stdout, child.stdout[-2000:] + child.stderr[-3000:]
    assert "LEAKED []" in child.stdout, child.stdout
    assert folder.read_status()["state"] == "finished" and folder.has_adapter()
    assert json.loads(folder.metrics_path.read_text().splitlines()[-1])["step"] == 1


def test_run_yaml_keeps_keys_it_does_not_know(tmp_path):
    folder = RunFolder(tmp_path)
    folder.spec_path.write_text("config: {objective: dpo}\nbase_model: m\nstart_run: 3\nfrom_the_future: 7\n")
    spec = folder.spec
    assert spec.objective == "dpo" and spec.start_run == 3 and spec.extra == {"from_the_future": 7}
    folder.write_spec(spec)
    assert folder.spec == spec and "from_the_future: 7" in folder.spec_path.read_text()
