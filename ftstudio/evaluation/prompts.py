"""Inputs a review's systems answer: what a reviewer typed or uploaded, as prompts."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from ftstudio.evaluation.systems import EvaluationError

MAX_PROMPTS = 2000


@dataclass
class EvalInput:
    """One input every system answers."""

    item_key: str
    input: str
    reference: str | None = None
    example_id: int | None = None
    version_id: int | None = None
    metadata: dict = field(default_factory=dict)


def inputs_from_prompts(prompts: list[str]) -> list[EvalInput]:
    """Inputs a reviewer typed or uploaded (no reference output)."""
    kept = [p.strip() for p in prompts if p and p.strip()]
    if not kept:
        raise EvaluationError("No prompt given: type one per line (or separate longer ones with a line '---').")
    if len(kept) > MAX_PROMPTS:
        raise EvaluationError(f"{len(kept):,} prompts is more than {MAX_PROMPTS:,} at once: split them up.")
    return [EvalInput("prompt:" + hashlib.sha256(p.encode()).hexdigest()[:16], p) for p in dict.fromkeys(kept)]


def parse_prompts(text: str) -> list[str]:
    """Typed prompts: blocks separated by a line holding only '---', else one prompt per line."""
    if any(line.strip() == "---" for line in text.splitlines()):
        blocks, current = [], []
        for line in text.splitlines():
            if line.strip() == "---":
                blocks.append("\n".join(current))
                current = []
            else:
                current.append(line)
        return [b for b in blocks + ["\n".join(current)] if b.strip()]
    return [line for line in text.splitlines() if line.strip()]


def read_prompt_file(path: Path) -> list[str]:
    """Prompts from .txt/.md (as typed), .jsonl or .csv (a prompt, input, question or text column)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md"):
        return parse_prompts(text)
    if suffix in (".jsonl", ".csv"):
        rows = ([json.loads(line) for line in text.splitlines() if line.strip()] if suffix == ".jsonl"
                else list(csv.DictReader(io.StringIO(text))))
        for column in ("prompt", "input", "question", "instruction", "text"):
            if rows and isinstance(rows[0], dict) and column in rows[0]:
                return [str(row.get(column) or "") for row in rows]
        raise EvaluationError(f"{path.name} has no prompt, input, question, instruction or text column.")
    raise EvaluationError(f"{path.name}: prompts come as .txt, .md, .jsonl or .csv files.")
