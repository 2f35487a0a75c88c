"""What a run folder says about a run: curves, progress and ETA, settings differences, and exports."""

from __future__ import annotations

import shutil
from pathlib import Path

from ftstudio.run_folder import RunFolder


def curves(run_dir: Path) -> dict:
    """Train and validation loss by step, the latest throughput and memory, and the worker's dtype and compile."""
    records, _ = RunFolder(run_dir).read_metrics()
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    evaluation = [(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r]
    perplexity = [(r["step"], r["eval_perplexity"]) for r in records if "eval_perplexity" in r]
    speeds = [r["tokens_per_second"] for r in records if r.get("tokens_per_second")]
    latest = next((r for r in reversed(records) if "step" in r), {})
    setup = next((r for r in reversed(records) if "dtype" in r), {})  # the latest worker's precision and compile
    # DPO's implicit rewards, or GRPO's mean reward and each reward's mean (rewards/<name>/mean) per step.
    grpo = sorted({key for r in records for key in r if key == "reward" or key.startswith("rewards/") and
                   key.endswith("/mean")})
    rewards = {key: [(r["step"], r[key]) for r in records if key in r and "step" in r]
               for key in ("rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected", *grpo)}
    return {"train": train, "eval": evaluation, "perplexity": perplexity, "tokens_per_second": speeds[-1] if speeds else None,
            "rewards": {key: points for key, points in rewards.items() if points},
            "dtype": setup.get("dtype"), "compiled": setup.get("compiled"),
            "memory_mb": latest.get("memory_mb"), "elapsed": latest.get("time"),
            "seconds_per_step": seconds_per_step(records),
            "step": latest.get("step", 0), "max_steps": latest.get("max_steps")}


def seconds_per_step(records: list[dict], window: int = 20) -> float | None:
    """Recent seconds per step, from the train logs of the latest worker process.

    The first step is left out: it pays for loading and, with compile on, for compiling (a minute or more), which
    would make an ETA from elapsed / step far too long. A resumed run's clock starts again at 0, so only the
    records after the last time the clock went back count.
    """
    timed = [(r["step"], r["time"]) for r in records if "loss" in r and "time" in r]
    restart = max((i for i in range(1, len(timed)) if timed[i][1] < timed[i - 1][1]), default=0)
    recent = timed[restart:][-window:]
    if len(recent) < 2 or recent[-1][0] <= recent[0][0]:
        return None
    return (recent[-1][1] - recent[0][1]) / (recent[-1][0] - recent[0][0])


DTYPE_NAMES = {"bfloat16": "bf16", "float32": "fp32", "float16": "fp16"}


def progress_text(run, curve: dict) -> str:
    """One line a person reads at a glance: step, percentage, ETA, tokens per second, memory; and why a run
    failed, when it did."""
    step, total = run.step or 0, run.max_steps or curve.get("max_steps")
    parts = [f"Run {run.id} · {run.status}"]
    if total:
        parts.append(f"step {step} of {total} ({100 * step / total:.0f}%)")
        elapsed, per_step = curve.get("elapsed"), curve.get("seconds_per_step")
        if run.status == "running" and (per_step or elapsed and step):
            remaining = (per_step or elapsed / step) * (total - step)
            parts.append(f"about {int(remaining // 60)} min {int(remaining % 60)} s left")
    if curve.get("tokens_per_second"):
        parts.append(f"{curve['tokens_per_second']:,.0f} tokens/s")
    if curve.get("memory_mb"):
        parts.append(f"memory {curve['memory_mb']:,.0f} MB")
    if curve.get("dtype"):
        parts.append(DTYPE_NAMES.get(curve["dtype"], curve["dtype"]) + (", compiled" if curve.get("compiled") else ""))
    if run.train_loss is not None:
        parts.append(f"loss {run.train_loss:.3f}")
    if run.eval_loss is not None:
        parts.append(f"validation {run.eval_loss:.3f}")
    if curve.get("perplexity"):
        parts.append(f"validation perplexity {curve['perplexity'][-1][1]:,.1f}")
    line = " · ".join(parts)
    error = getattr(run, "error", None)
    if error and run.status in ("failed", "stopped"):
        line += f"\n\n{error}"
    return line


def settings_difference(first, second) -> list[tuple[str, object, object, bool]]:
    """Every setting of two runs side by side, with whether they differ."""
    rows = [("base_model", first.base_model, second.base_model),
            ("dataset version", first.version_name, second.version_name)]
    keys = list(dict.fromkeys([*first.config, *second.config]))
    rows += [(key, first.config.get(key), second.config.get(key)) for key in keys]
    return [(name, a, b, a != b) for name, a, b in rows]


def adapter_dir(run) -> Path:
    """The run's adapter folder; ValueError saying what it made instead, or that it has not finished."""
    folder = RunFolder(run.run_dir).adapter_dir
    if not RunFolder(run.run_dir).has_adapter():
        whole = _trained_folder(run)
        if whole is not None:
            raise ValueError(f"Run {run.id} trained no adapter ({run.method}): its {whole.name}/ folder is what it "
                             "made; download that instead.")
        raise ValueError(f"Run {run.id} has no adapter yet ({run.status}): wait for it to finish.")
    return folder


def _trained_folder(run) -> Path | None:
    """What a run without an adapter made: a fully fine-tuned model (model/) or the feature baseline's regression
    (features/)."""
    made = RunFolder(run.run_dir)
    for folder in (made.model_dir, made.features_dir):
        if folder.is_dir() and any(folder.iterdir()):
            return folder
    return None


def _recipe(run):
    from ftstudio.training.recipes import get_recipe

    spec = RunFolder(run.run_dir).spec
    return get_recipe(spec.recipe, spec.objective), spec


def zip_folder(folder: Path, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.make_archive(str(out_dir / name), "zip", folder))


def zip_adapter(run, out_dir: Path) -> Path:
    """The adapter in PEFT's standard format, zipped for download; a run without one (full fine-tuning, the
    feature baseline) gives the folder it made."""
    if not RunFolder(run.run_dir).has_adapter() and _trained_folder(run) is not None:
        whole = _trained_folder(run)
        return zip_folder(whole, out_dir, f"{run.name}-{whole.name}")
    return zip_folder(adapter_dir(run), out_dir, f"{run.name}-adapter")


def merge_adapter(run, base_model_path: str) -> Path:
    """Fold the adapter into the base weights (merge_and_unload) and save a standalone model folder, of the class
    the run's recipe trains (a causal LM, an encoder classifier with its label map, a seq2seq LM)."""
    from transformers import AutoTokenizer

    from ftstudio.models import load_model

    recipe, spec = _recipe(run)
    if not recipe.trains:
        raise ValueError(f"Run {run.id} is the feature baseline: it has no adapter to merge; download its "
                         "logistic regression instead.")
    made = RunFolder(run.run_dir)
    if made.model_dir.is_dir():
        return made.model_dir  # fully fine-tuned: already a standalone model
    folder = adapter_dir(run)
    target = made.merged_dir
    merged = load_model(base_model_path, adapter=folder, family=recipe.family,
                        labels=spec.labels).merge_and_unload()
    merged.save_pretrained(target)
    AutoTokenizer.from_pretrained(folder).save_pretrained(target)
    if spec.labels:
        from ftstudio.training.recipes.classification import save_labels

        save_labels(target, spec.labels)
    return target


def push_adapter(run, repo_id: str, token: str | None) -> str:
    if not token:
        raise ValueError("Pushing to the Hub needs a token: set HF_TOKEN (write access) and try again.")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=True, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=str(adapter_dir(run)))
    return f"https://huggingface.co/{repo_id}"
