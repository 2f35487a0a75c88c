"""Verifiable rewards for GRPO: small named functions over (prompt, completion, example), each returning a score
from 0 to 1 (or None where it does not apply), in an open registry.

`example` is the training row (its `reference` output and `label`) with the run's reward context (the project's
`json_schema` and `labels`), read from the run folder: a training child never reads the studio database.
A user adds a reward by path, "my_rewards.py:politeness", a function of the same signature.

`batched` turns one into the callable TRL's GRPOTrainer calls, named so that TRL logs its mean per step as
rewards/<name>/mean beside the total `reward` (recipes/grpo.py assembles them, the judge's from judge_reward.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Callable

RewardFunction = Callable[[str, str, dict], "float | None"]


class RewardError(ValueError):
    """A reward that cannot be used as given, with what to do."""


def _words(text: str) -> str:
    return " ".join((text or "").split()).casefold()


def _json_value(completion: str):
    """The JSON in a completion: the whole text, else the first {...} or [...] block (models add prose)."""
    text = (completion or "").strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    candidates = [text] + ([fenced.group(1)] if fenced else []) + re.findall(r"(\{.*\}|\[.*\])", text, re.S)
    for candidate in candidates:
        try:
            return json.loads(candidate), True
        except (json.JSONDecodeError, TypeError):
            continue
    return None, False


def json_schema(prompt: str, completion: str, example: dict) -> float:
    """1 for JSON that validates against the project's schema, 0.5 for JSON that does not, 0 for no JSON."""
    import jsonschema

    value, parsed = _json_value(completion)
    if not parsed:
        return 0.0
    schema = example.get("json_schema")
    if not schema:
        return 1.0
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError:
        return 0.5
    return 1.0


def label_match(prompt: str, completion: str, example: dict) -> float | None:
    """1 when the completion names the right label and no other of the project's labels, else 0."""
    right = (example.get("label") or example.get("reference") or "").strip()
    if not right:
        return None
    said = _words(completion)
    labels = [label for label in example.get("labels") or [right] if label]

    def names(label: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(_words(label))}(?!\w)", said) is not None

    others = [label for label in labels if _words(label) != _words(right) and names(label)]
    return 1.0 if names(right) and not others else 0.0


def exact_match(prompt: str, completion: str, example: dict) -> float | None:
    """1 when the completion has the reference's words (case and spacing aside), else 0."""
    reference = example.get("reference")
    if reference is None:
        return None
    return 1.0 if _words(completion) == _words(reference) else 0.0


def length(prompt: str, completion: str, example: dict) -> float | None:
    """How close the completion's length in characters is to the reference's: 1 at the same length, 0 at twice
    or at none."""
    reference = (example.get("reference") or "").strip()
    if not reference:
        return None
    return max(0.0, 1.0 - abs(len((completion or "").strip()) - len(reference)) / len(reference))


REWARDS: dict[str, RewardFunction] = {"json_schema": json_schema, "label_match": label_match,
                                      "exact_match": exact_match, "length": length}
JUDGE = "judge"
REWARD_HELP = ("json_schema: valid JSON of the project's schema; label_match: names the right label; exact_match: "
               "the reference's words; length: close to the reference's length; judge: a 1-10 score from an "
               "OpenAI-compatible judge; or a file's function, path.py:function(prompt, completion, example)")


def parse_reward_names(text: str) -> list[str]:
    """"json_schema,length" -> ["json_schema", "length"], checked: built-in names, judge, or path.py:function."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    if not names:
        raise RewardError(f"Name at least one reward: {REWARD_HELP}.")
    for name in names:
        if name not in REWARDS and name != JUDGE and not re.fullmatch(r".+\.py:\w+", name):
            raise RewardError(f"Unknown reward {name!r}: choose from {', '.join([*REWARDS, JUDGE])}, or give a "
                              "function in a file as path.py:function.")
    return names


def load_user_reward(spec: str, folder: Path | None = None) -> RewardFunction:
    """The function `name` of the Python file in "path.py:name" (a relative path is looked up in `folder` first,
    where a run folder keeps its copy)."""
    path_text, _, name = spec.rpartition(":")
    path = Path(path_text)
    if folder is not None and (Path(folder) / path.name).exists():
        path = Path(folder) / path.name
    if not path.exists():
        raise RewardError(f"The reward file {path_text} does not exist: give a path to a .py file.")
    module_spec = importlib.util.spec_from_file_location(f"ftstudio_user_reward_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    function = getattr(module, name, None)
    if not callable(function):
        raise RewardError(f"{path.name} has no function {name}(prompt, completion, example).")
    return function


def completion_text(completion) -> str:
    """A completion as text: standard completions are strings, conversational ones lists of messages."""
    if isinstance(completion, list):
        return "".join(message.get("content") or "" for message in completion if isinstance(message, dict))
    return completion or ""


def batched(name: str, function: RewardFunction, context: dict) -> Callable:
    """TRL's form of a reward: lists of prompts and completions, and the dataset's columns as lists."""

    def score(prompts, completions, **columns):
        rows = [{key: values[i] for key, values in columns.items() if isinstance(values, list)}
                for i in range(len(prompts))]
        return [function(completion_text(prompt), completion_text(completion), {**context, **row})
                for prompt, completion, row in zip(prompts, completions, rows)]

    score.__name__ = name
    return score


def cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:32]
