"""Labeling: each annotator's queue (with leases), decisions, undo, model drafts, and agreement."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from statistics import median

import jsonschema

from ftstudio.drafting import MAX_INPUT_CHARS, MAX_OUTPUT_CHARS, trim_draft
from ftstudio.store import Project, Store
from ftstudio.wording import quoted

DEFAULT_LEASE_SECONDS = 15 * 60
STATUSES = ("accepted", "skipped", "flagged")


class LabelingError(ValueError):
    """An example that cannot be accepted as it is, with what to change."""


@dataclass
class Task:
    """One item in front of an annotator, with the fields prefilled where the task makes that natural."""

    item: dict
    input: str
    output: str
    label: str | None
    output_draft: str | None = None  # a teacher's draft the output starts from (see evaluation.distill)


def overlap(project: Project) -> int:
    return max(1, int(project.settings.get("overlap", 1)))


def lease_seconds(project: Project) -> int:
    return int(project.settings.get("lease_seconds", DEFAULT_LEASE_SECONDS))


def prefill(project: Project, item: dict) -> tuple[str, str]:
    """(input, output) to start from: a post is an output whose idea is missing; an email is an input."""
    metadata = item.metadata or {}
    if "input" in metadata or "output" in metadata:
        return metadata.get("input") or "", metadata.get("output") or ""
    if item.kind == "email":
        body = metadata.get("new_text") or item.text
        subject = item.title
        return (f"Subject: {subject}\n\n{body}" if subject else body), ""
    if project.task_type == "generation":
        return "", item.text
    return item.text, ""


def item_context(item) -> str:
    """What an annotator reads about an item besides the input and output boxes: for an email its sender, date,
    subject and attachments (and any quoted history); for a post its title, author and date. The body is in the
    input or output box already, so it is not repeated, and the source file name never shows: sample names
    like the samples' old '012-shared-file-phish.eml' would give the label away."""
    metadata = item.metadata or {}
    lines = []
    if item.kind == "email":
        for label, key in (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Date", "date")):
            if metadata.get(key):
                lines.append(f"{label}: {metadata[key]}")
        if item.title:
            lines.append(f"Subject: {item.title}")
        attachments = [a.get("filename") or a.get("content_type") for a in metadata.get("attachments") or []]
        if attachments:
            lines.append(f"Attachments: {', '.join(str(a) for a in attachments)}")
        if metadata.get("labels"):  # Gmail Takeout's own labels: a hint for the annotator, never a label
            lines.append(f"Gmail labels: {', '.join(str(label) for label in metadata['labels'])}")
        for warning in metadata.get("warnings") or []:
            lines.append(f"Import note: {warning}")
        if metadata.get("quoted_text"):
            lines += ["", "Quoted earlier message:", metadata["quoted_text"]]
        return "\n".join(lines)
    if item.title:
        lines.append(item.title)
    byline = " · ".join(str(v) for v in (item.author, item.written_at and f"{item.written_at:%Y-%m-%d}") if v)
    if byline:
        lines.append(byline)
    return "\n".join(lines) or "(no title, author or date)"


def next_task(store: Store, project: Project, user_name: str) -> Task | None:
    """Lease the next item to this annotator; None when nothing is left for them."""
    item_id = store.lease_next_item(project.id, user_name, lease_seconds(project), overlap(project))
    if item_id is None:
        return None
    item = store.get_item(item_id)
    input_text, output_text = prefill(project, item)
    label = (item.metadata or {}).get("label")
    teacher = store.teacher_draft_for_item(item.id) if not output_text else None
    if teacher is not None and teacher.input == input_text:
        return Task(item=item, input=input_text, output=teacher.output, label=label, output_draft=teacher.output)
    return Task(item=item, input=input_text, output=output_text, label=label)


def validate_example(project: Project, input_text: str, output_text: str, label: str | None) -> None:
    """Raise LabelingError saying what is missing or wrong for this project's task type."""
    if not (input_text or "").strip():
        raise LabelingError("The input is empty: write (or draft) the input before accepting.")
    if project.task_type == "classification":
        if not label:
            raise LabelingError("Pick a label before accepting (keys 1-9 pick one).")
        if project.labels and label not in project.labels:
            raise LabelingError(f"{quoted(label)} is not one of this project's labels: {', '.join(project.labels)}.")
        return
    if not (output_text or "").strip():
        raise LabelingError("The output is empty: write (or draft) the output before accepting.")
    if project.task_type == "structured":
        try:
            value = json.loads(output_text)
        except json.JSONDecodeError as error:
            raise LabelingError(f"The output is not valid JSON ({error.msg} at line {error.lineno}).") from None
        if project.json_schema:
            try:
                jsonschema.validate(value, project.json_schema)
            except jsonschema.ValidationError as error:
                where = "/".join(str(p) for p in error.absolute_path) or "the top level"
                raise LabelingError(f"The JSON does not match the project's schema at {where}: {error.message}") from None


def edit_record(draft: str | dict | None, final: str, model: str | None = None) -> dict | None:
    """What the annotator did with a model draft: kept as is (changed 0) up to rewritten (changed 1), and which
    model drafted it. `draft` is the text, or {"text", "model"} as the Label tab keeps it."""
    if isinstance(draft, dict):
        draft, model = draft.get("text"), draft.get("model") or model
    if not draft:
        return None
    record = {"draft": draft, "changed": round(1 - SequenceMatcher(None, draft, final).ratio(), 3)}
    return record | ({"model": model} if model else {})


def decide(store: Store, project: Project, user_name: str, item_id: int, status: str, input_text: str = "",
           output_text: str = "", label: str | None = None, input_draft: str | dict | None = None,
           output_draft: str | dict | None = None) -> int:
    """Record accept, skip or flag on a leased item; accepting validates the example first. A draft is its text, or
    {"text", "model"} to record which model drafted it."""
    if status not in STATUSES:
        raise LabelingError(f"Unknown action {status!r}: use one of {', '.join(STATUSES)}.")
    item = store.get_item(item_id)
    if item is None or item.project_id != project.id:
        raise LabelingError(f"Item {item_id} is not in {quoted(project.name)}: load the next item again.")
    if status == "accepted":
        validate_example(project, input_text, output_text, label)
    if project.task_type == "classification":
        output_text = label or ""
    drafts = {k: v for k, v in (("input", edit_record(input_draft, input_text)),
                                 ("output", edit_record(output_draft, output_text))) if v}
    return store.save_example(project.id, item_id, user_name, status, input_text, output_text, label, drafts or None)


def undo(store: Store, project: Project, user_name: str) -> Task | None:
    """Take back this annotator's last decision and put that item in front of them again, as they left it:
    the input, output and label they had accepted come back (a skipped or flagged item comes back as it was)."""
    undone = store.undo_last_example(project.id, user_name, lease_seconds(project))
    if undone is None:
        return None
    item = store.get_item(undone.item_id)
    input_text, output_text = prefill(project, item)
    if undone.status == "accepted":
        input_text, output_text = undone.input or "", undone.output or ""
        if project.task_type == "classification":
            output_text = ""
    label = undone.label or (item.metadata or {}).get("label")
    return Task(item=item, input=input_text, output=output_text, label=label)


# --- model drafts --------------------------------------------------------------

REVERSE_INSTRUCTION = (
    "Here is a text someone wrote:\n\n{output}\n\n"
    "Write the short request (one or two sentences) that would have asked for exactly this text. "
    "Reply with the request only."
)
FEW_SHOT_EXAMPLES = 3


def accepted_examples(store: Store, project: Project, limit: int = FEW_SHOT_EXAMPLES) -> list[tuple[str, str]]:
    """The latest accepted (input, output) pairs of a project, to show a drafting model what is wanted."""
    pairs = [(e.input or "", e.output or "") for e in store.list_examples(project.id, "accepted")
             if (e.input or "").strip() and (e.output or "").strip()]
    return pairs[-limit:]


def _few_shot(examples: list[tuple[str, str]], reverse: bool) -> str:
    if not examples:
        return ""
    shown = "\n\n".join(f"Request: {request}\nText: {text}" if reverse else f"Input: {request}\nOutput: {text}"
                         for request, text in examples)
    return f"Examples the author accepted:\n\n{shown}\n\n"


def draft_input(generate, output_text: str, examples: list[tuple[str, str]] | None = None) -> str:
    """Reverse instruction: ask the model for the idea or request that would produce this output.

    `generate` maps a list of prompts to a list of answers (the studio's loaded model, or a teacher model);
    `examples` are accepted (input, output) pairs shown to it first. The draft comes back trimmed (see
    `drafting.trim_draft`).
    """
    if not output_text.strip():
        raise LabelingError("There is no output to draft an input from.")
    prompt = _few_shot(examples or [], True) + REVERSE_INSTRUCTION.format(output=output_text.strip())
    return trim_draft(generate([prompt])[0], MAX_INPUT_CHARS)


def draft_output(generate, input_text: str, examples: list[tuple[str, str]] | None = None) -> str:
    """The output a model would write for this input, shown the accepted examples first; trimmed."""
    if not input_text.strip():
        raise LabelingError("There is no input to draft an output for.")
    prompt = _few_shot(examples, False) + f"Input: {input_text.strip()}\nOutput:" if examples else input_text.strip()
    return trim_draft(generate([prompt])[0], MAX_OUTPUT_CHARS)


# --- agreement -----------------------------------------------------------------
# Written here rather than taken from scikit-learn/statsmodels: neither gives the per-label
# Fleiss values the UI shows, and both are heavy dependencies for twenty lines of arithmetic.


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa for two annotators over the items both labeled; None when undefined."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in set(first) | set(second)) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def fleiss_kappa(ratings: list[Counter], categories: list[str]) -> tuple[float | None, dict[str, float | None]]:
    """Fleiss' kappa over items each rated by the same number of annotators, overall and per category."""
    ratings = [r for r in ratings if sum(r.values()) >= 2]
    if not ratings:
        return None, {c: None for c in categories}
    raters = sum(ratings[0].values())
    ratings = [r for r in ratings if sum(r.values()) == raters]
    n_items = len(ratings)
    p_j = {c: sum(r[c] for r in ratings) / (n_items * raters) for c in categories}
    p_i = [(sum(v * v for v in r.values()) - raters) / (raters * (raters - 1)) for r in ratings]
    p_bar, p_e = sum(p_i) / n_items, sum(p * p for p in p_j.values())
    overall = None if p_e == 1 else (p_bar - p_e) / (1 - p_e)
    per_category = {}
    for c in categories:
        q = p_j[c] * (1 - p_j[c])
        agreement = sum(r[c] * (raters - r[c]) for r in ratings) / (n_items * raters * (raters - 1) * q) if q else None
        per_category[c] = None if agreement is None else 1 - agreement
    return overall, per_category


def agreement(store: Store, project: Project) -> dict:
    """Inter-annotator agreement on labels: Cohen's kappa for two annotators, Fleiss' kappa for more."""
    by_item: dict[int, dict[str, str]] = defaultdict(dict)
    for example in store.list_examples(project.id):
        if example.item_id is not None and example.label and example.origin == "labeled":
            by_item[example.item_id][example.created_by] = example.label
    shared = {item: labels for item, labels in by_item.items() if len(labels) >= 2}
    annotators = sorted({a for labels in shared.values() for a in labels})
    categories = list(project.labels or sorted({l for labels in shared.values() for l in labels.values()}))
    result = {"items": len(shared), "annotators": annotators, "method": None, "overall": None,
              "per_label": {c: None for c in categories}}
    if not shared:
        return result
    if len(annotators) == 2:
        a, b = annotators
        pairs = [(labels[a], labels[b]) for labels in shared.values() if a in labels and b in labels]
        result["method"] = "cohen"
        result["overall"] = cohen_kappa(pairs)
        result["per_label"] = {c: cohen_kappa([(x == c, y == c) for x, y in pairs]) for c in categories}
    else:
        result["method"] = "fleiss"
        result["overall"], result["per_label"] = fleiss_kappa([Counter(l.values()) for l in shared.values()], categories)
    return result


def recent_examples(store: Store, project: Project, limit: int = 20) -> list[dict]:
    """The project's latest accepted examples, newest first, each with where it came from: "labeled", "paired"
    (imported as pairs), "correction" (a reviewer's right answer after a blind vote), ..."""
    examples = store.list_examples(project.id, "accepted")[-limit:]
    corrected = {c.example_id: c for c in store.list_corrections(project.id)} if any(
        e.origin == "correction" for e in examples) else {}
    return [{"id": e.id, "origin": e.origin, "by": e.created_by or "", "at": str(e.created_at)[:16],
             "input": e.input or "", "output": e.label if project.task_type == "classification" else (e.output or ""),
             "detail": (f"corrects {', '.join(corrected[e.id].systems)} (review {corrected[e.id].review_id}, "
                        f"pair {corrected[e.id].pair_id})") if e.id in corrected else ""}
            for e in reversed(examples)]


# --- how drafts fare -------------------------------------------------------------

UNRECORDED_DRAFTER = "(model not recorded)"


def draft_acceptance(store: Store, project: Project) -> list[dict]:
    """Per drafting model, over accepted examples: drafts used, the share kept unchanged, and the median edit size
    (0 kept as is, 1 rewritten). How a team sees its tuned model get better at its own task."""
    changes: dict[str, list[float]] = defaultdict(list)
    for example in store.list_examples(project.id, "accepted"):
        for record in (example.draft or {}).values():
            if isinstance(record, dict) and "changed" in record:
                changes[record.get("model") or UNRECORDED_DRAFTER].append(float(record["changed"]))
    return [{"model": model, "drafts": len(values), "unchanged": sum(v == 0 for v in values) / len(values),
             "median_change": median(values)} for model, values in sorted(changes.items())]
