"""The memory estimate that refuses runs, against the peak memory a training child really reaches (issue 28: the
Train tab's DPO defaults on the 135M model were refused as needing 25.5 GiB; they peak at a few GB)."""

import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ftstudio.run_folder import RunFolder, RunSpec
from ftstudio.training.config import TrainConfig
from ftstudio.training.memory import estimate_memory, longest_sequence

ROOT = Path(__file__).resolve().parent.parent
GIB = 2**30
SMOLLM2_135M = SimpleNamespace(hidden_size=576, num_hidden_layers=30, vocab_size=49152, intermediate_size=1536,
                               num_attention_heads=9)
WORDS = "the data shows a clear trend in sales while customers ask for faster delivery and better support".split()
# The child's own high-water mark (VmHWM), not ru_maxrss: Linux carries ru_maxrss across exec, so a child started
# from a large pytest process would report the parent's size.
PEAK = """
import re, sys
from pathlib import Path
from ftstudio.training.worker import main
code = main([sys.argv[1]])
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print("PEAK", peak_kib * 1024, "EXIT", code)
"""


def words(rng, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def test_the_train_tabs_dpo_defaults_on_the_135m_model_fit_in_20_gib():
    config = TrainConfig(objective="dpo", batch_size=4)  # max prompt 512 + max completion 512
    from ftstudio.training.recipes import RECIPES

    def needed(longest):
        return estimate_memory(SMOLLM2_135M, config, False, int(20.8 * GIB), "CPU (RAM)", value_bytes=2,
                               recipe=RECIPES["dpo"], longest_tokens=longest)

    real = needed(360)  # the version's longest pair, as in the issue
    assert real.fits and real.needed_bytes < 10 * GIB, real.describe()
    assert "batches of 8 sequences of up to 360 tokens" in real.describe()
    assert needed(None).needed_bytes > 2 * real.needed_bytes  # padded to the longest the settings allow


def test_the_longest_sequence_is_truncated_as_the_recipe_truncates(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rng = random.Random(0)
    pairs = {"train": [{"prompt": words(rng, 300), "chosen": words(rng, 40), "rejected": words(rng, 90)},
                       {"prompt": "hi", "chosen": "short", "rejected": "short"}]}
    config = TrainConfig(objective="dpo", max_prompt_length=64, max_completion_length=512)
    longest = longest_sequence(pairs, tokenizer, config, "preferences")
    answer = len(tokenizer(pairs["train"][0]["rejected"], add_special_tokens=False)["input_ids"])
    assert answer + 64 <= longest <= answer + 64 + 16  # the prompt cut to its limit, the longer answer whole
    sft = {"train": [{"prompt": words(rng, 30), "completion": words(rng, 20)}]}
    assert longest_sequence(sft, tokenizer, TrainConfig(max_length=16), "prompt_completion") == 16


def run_and_measure(tmp_path: Path, model_dir: Path, config: TrainConfig, rows: list[dict], recipe: str):
    """Train in a child process; return its peak resident memory and the estimate for the same run."""
    from transformers import AutoConfig, AutoTokenizer

    from ftstudio.training.device import choose_precision
    from ftstudio.training.recipes import RECIPES

    folder = RunFolder(tmp_path / recipe)
    folder.path.mkdir()
    folder.write_split("train", rows)
    folder.write_spec(RunSpec(config=config.to_dict(), base_model=str(model_dir), base_model_path=str(model_dir),
                              recipe=recipe, project={"name": "p", "task_type": "generation"},
                              dataset_version={"name": "v", "kind": "preferences" if config.is_dpo else "examples"}))
    child = subprocess.run([sys.executable, "-c", PEAK, str(folder.path)], capture_output=True, text=True, cwd=ROOT,
                           timeout=1200)
    assert "EXIT 0" in child.stdout, child.stderr[-3000:]
    peak = int(child.stdout.split("PEAK ")[1].split()[0])
    longest = longest_sequence({"train": rows}, AutoTokenizer.from_pretrained(model_dir), config, RECIPES[recipe].data)
    estimate = estimate_memory(AutoConfig.from_pretrained(model_dir), config, False, 64 * GIB, "CPU (RAM)",
                               value_bytes=choose_precision(config).dtype.itemsize, recipe=RECIPES[recipe],
                               longest_tokens=longest)
    print(f"{recipe} on {Path(model_dir).name}: peak {peak / GIB:.2f} GiB, estimate {estimate.describe()}")
    return peak, estimate


@pytest.mark.parametrize("objective", ["sft", "dpo"])
def test_the_estimate_is_within_one_and_a_half_times_the_measured_peak(tmp_path, tiny_model_dir, objective):
    rng = random.Random(1)
    config = TrainConfig(objective=objective, batch_size=4, max_steps=2, save_steps=100, eval_steps=0, compile="off")
    if objective == "dpo":
        rows = [{"prompt": words(rng, 60), "chosen": words(rng, 80), "rejected": words(rng, 30)} for _ in range(8)]
    else:
        rows = [{"prompt": words(rng, 60), "completion": words(rng, 80)} for _ in range(8)]
    peak, estimate = run_and_measure(tmp_path, tiny_model_dir, config, rows, "dpo" if objective == "dpo"
                                     else "causal_sft")
    assert peak / 1.5 <= estimate.needed_bytes <= peak * 1.5, (peak / GIB, estimate.describe())


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["sft", "dpo"])
def test_the_estimate_holds_on_the_embedded_model(tmp_path, embedded_model_cache, objective):
    model_dir = next(embedded_model_cache.iterdir())
    rng = random.Random(2)
    # Batches of 2: the real model's activations and logits still outweigh its weights, at half the compute.
    config = TrainConfig(objective=objective, batch_size=2, max_steps=1, save_steps=100, eval_steps=0, compile="off")
    if objective == "dpo":
        rows = [{"prompt": words(rng, 80), "chosen": words(rng, 100), "rejected": words(rng, 50)} for _ in range(4)]
    else:
        rows = [{"prompt": words(rng, 80), "completion": words(rng, 200)} for _ in range(4)]
    peak, estimate = run_and_measure(tmp_path, model_dir, config, rows, "dpo" if objective == "dpo" else "causal_sft")
    assert peak / 1.5 <= estimate.needed_bytes <= peak * 1.5, (peak / GIB, estimate.describe())
