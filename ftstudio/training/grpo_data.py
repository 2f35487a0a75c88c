"""What a GRPO run folder is made of, on the app side: the prompts with their reference and label, the rewards by
name, and what they need to score (the project's schema and labels, the judge's endpoint), with a copy of a user's
reward file, so the folder trains anywhere without the studio database."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ftstudio.store import Project, Store, Version
from ftstudio.templates import Template, render
from ftstudio.training.config import GrpoOptions
from ftstudio.training.prepare import RunError
from ftstudio.training.rewards import JUDGE, REWARDS, RewardError, load_user_reward, parse_reward_names

DEFAULT_REWARD = {"structured": "json_schema", "classification": "label_match"}


def reward_names(project: Project, options: GrpoOptions) -> list[str]:
    """The rewards a run uses: those named, else the project's task's own; checked before anything is written."""
    try:
        names = parse_reward_names(options.reward or DEFAULT_REWARD.get(project.task_type, "exact_match"))
        for name in names:
            if name not in REWARDS and name != JUDGE:
                load_user_reward(name)
    except RewardError as error:
        raise RunError(str(error)) from None
    if "json_schema" in names and not project.json_schema:
        raise RunError(f"{project.name} has no JSON Schema for the json_schema reward: set one with `ftstudio "
                       f"projects` / `import --json-schema FILE`, or choose another reward.")
    if "label_match" in names and not project.labels:
        raise RunError(f"{project.name} has no labels for the label_match reward: choose another reward.")
    if JUDGE in names and not (options.judge and options.judge_model):
        raise RunError("The judge reward needs the judge's endpoint: give --judge URL and --judge-model NAME.")
    if not 2 <= options.num_generations <= 64:
        raise RunError(f"num generations must be between 2 and 64: GRPO compares each answer with the others for "
                       f"the same prompt (it is {options.num_generations}).")
    return names


def grpo_extra(project: Project, options: GrpoOptions, names: list[str], studio_home: Path) -> dict:
    """What the run spec records for the rewards (no API key: the child reads it as the judge does)."""
    context = {"json_schema": project.json_schema, "labels": list(project.labels or [])}
    if JUDGE in names:
        context["judge"] = {"base_url": options.judge, "model": options.judge_model,
                            "concurrency": options.judge_concurrency, "secrets_home": str(studio_home)}
    return {"rewards": names, "reward_context": context}


def copy_reward_files(names: list[str], run_dir: Path) -> None:
    """A user's reward files, copied beside the run's data (the child looks there first)."""
    for name in names:
        if name not in REWARDS and name != JUDGE:
            source = Path(name.rpartition(":")[0])
            shutil.copy(source, Path(run_dir) / source.name)


def grpo_rows(store: Store, version: Version, tokenizer) -> dict[str, list[dict]]:
    """The version's examples rendered with its template as prompt/reference/label: TRL's GRPOTrainer passes every
    column but prompt and completion on to the rewards."""
    template = Template.from_dict(version.template)
    by_split: dict[str, list[dict]] = {}
    for row in store.version_rows(version.id):
        rendered = render(template, row, tokenizer if template.preset == "chat" else None)
        by_split.setdefault(row.split, []).append({"prompt": rendered.prompt, "reference": rendered.completion,
                                                   "label": row.label or ""})
    return by_split


@dataclass
class GrpoPlan:
    split_rows: dict[str, list[dict]]
    names: list[str]
    extra: dict

    def write_files(self, run_dir: Path) -> None:
        copy_reward_files(self.names, run_dir)


def plan_grpo_run(store: Store, project: Project, version: Version, options: GrpoOptions, tokenizer,
                  studio_home: Path) -> GrpoPlan:
    """A GRPO run's rows and reward records, or a RunError saying what is missing."""
    if version.is_preferences or version.is_text:
        raise RunError(f"Version {version.name} holds {'preference pairs' if version.is_preferences else 'raw text'}"
                       ": GRPO samples answers to the prompts of an input/output version. Pick one.")
    names = reward_names(project, options)
    return GrpoPlan(grpo_rows(store, version, tokenizer), names, grpo_extra(project, options, names, studio_home))
