"""Distillation: a registered system, as the teacher, writes outputs for a project's items that have an input and
no output yet. Its drafts wait in the Label tab for an expert to accept (or edit), or with `accept` become accepted
examples marked "teacher" at once. The loop this closes: teacher outputs, train the small model, then a blind
review of student against teacher, with costs.

Every draft is stored under its system, model and prompt, so a rerun asks nothing it asked before, and costs
nothing for it; a failed request stores nothing, so a rerun asks again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable

from ftstudio.config import Settings
from ftstudio.drafting import MAX_OUTPUT_CHARS, trim_draft
from ftstudio.evaluation.contestants import find_contestant, hosted_prompt, remote_model, request_cost
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.labeling import accepted_examples, prefill
from ftstudio.remote import RemoteModelError
from ftstudio.store import Project, Store

TEACHER_ORIGIN = "teacher"


@dataclass
class DistillResult:
    """What a distillation did: drafts written (new or cached), requests sent, cached, failed, what it cost."""

    drafted: int = 0
    requests: int = 0
    cached: int = 0
    failed: int = 0
    cost_usd: float = 0.0
    accepted: int = 0
    items: int = 0
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The --json shape."""
        return {"drafted": self.drafted, "requests": self.requests, "cached": self.cached, "failed": self.failed,
                "cost_usd": round(self.cost_usd, 6)}

    def summary(self) -> str:
        accepted = f", {self.accepted} accepted as examples marked teacher" if self.accepted else \
            ", waiting in the Label tab for acceptance"
        failed = f"; {self.failed} failed (a rerun asks again): {self.failures[0]}" if self.failures else ""
        return (f"{self.drafted} of {self.items} items drafted{accepted}: {self.requests} requests, {self.cached} "
                f"cached, cost ${self.cost_usd:.4f}{failed}.")


def items_to_draft(store: Store, project: Project) -> list[tuple[object, str]]:
    """(item, input) for the project's items with an input and no output, none accepted yet."""
    found = []
    for item in store.items_to_distill(project.id):
        input_text, output_text = prefill(project, item)
        if input_text.strip() and not output_text.strip():
            found.append((item, input_text))
    return found


def _key(url: str, model: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps(["teacher", url, model, prompt]).encode()).hexdigest()[:24]


def distill(store: Store, studio: Settings, project: Project, teacher: str, limit: int | None = None,
            accept: bool = False, user_name: str | None = None, max_tokens: int = 512,
            on_progress: Callable[[int, int, float, float], None] | None = None) -> DistillResult:
    """Draft outputs with the teacher for up to `limit` items; on_progress(done, total, cost so far, projected)."""
    contestant = find_contestant(store, teacher)
    if contestant is None or contestant.hosted is None:
        raise EvaluationError(f"No system {teacher!r} is registered: a teacher is a system added with `ftstudio "
                              "systems add NAME --url URL --model MODEL` (see `ftstudio systems list`).")
    if project.task_type == "classification":
        raise EvaluationError(f"Project {project.name!r} classifies: a teacher writes outputs, not labels. Label "
                              "it on the Label tab, or distill into a generation project.")
    system = contestant.hosted
    examples = accepted_examples(store, project, contestant.shots) if contestant.shots else None
    todo = items_to_draft(store, project)[:limit if limit and limit > 0 else None]
    prompts = {item.id: hosted_prompt(text, examples) for item, text in todo}
    keys = {item.id: _key(system.url, system.model, prompts[item.id]) for item, _ in todo}
    stored = store.teacher_drafts_by_keys(list(keys.values()))
    result = DistillResult(items=len(todo))
    result.cached = sum(keys[item.id] in stored for item, _ in todo)
    missing = [(item, text) for item, text in todo if keys[item.id] not in stored]
    model = remote_model(studio, system, max_tokens)
    step = max(1, model.concurrency * 2)
    for start in range(0, len(missing), step):
        part = missing[start:start + step]
        replies = model.complete_many([json.loads(prompts[item.id]) for item, _ in part], 0.0, max_tokens)
        result.requests += len(part)
        for (item, text), reply in zip(part, replies):
            if isinstance(reply, RemoteModelError):
                result.failed += 1
                result.failures.append(str(reply))
                continue
            cost = request_cost(system, reply.input_tokens, reply.output_tokens)
            result.cost_usd += cost or 0.0
            store.add_teacher_draft({"cache_key": keys[item.id], "project_id": project.id, "item_id": item.id,
                                     "system": teacher, "input": text, "output": trim_draft(reply.text,
                                                                                            MAX_OUTPUT_CHARS),
                                     "latency_ms": reply.latency_ms, "input_tokens": reply.input_tokens,
                                     "output_tokens": reply.output_tokens, "cost_usd": cost})
        if on_progress:
            done = start + len(part)
            on_progress(done, len(missing), result.cost_usd, result.cost_usd / done * len(missing))
    drafts = store.teacher_drafts_by_keys(list(keys.values()))
    result.drafted = len(drafts)
    if accept:
        result.accepted = _accept(store, project, drafts.values(), user_name)
    return result


def _accept(store: Store, project: Project, drafts, user_name: str | None) -> int:
    """Each draft not accepted yet becomes an accepted example marked teacher."""
    accepted = 0
    for draft in drafts:
        if draft.accepted_example is None and draft.output.strip():
            example = store.save_example(project.id, draft.item_id, user_name or TEACHER_ORIGIN, "accepted",
                                         draft.input, draft.output, None, {"teacher": draft.system},
                                         origin=TEACHER_ORIGIN)
            store.mark_teacher_draft_accepted(draft.cache_key, example)
            accepted += 1
    return accepted
