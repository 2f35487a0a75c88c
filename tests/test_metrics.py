"""Automatic metrics against hand-computed values, per system and split, and the model-based ones (perplexity of
the reference, semantic similarity) computed in the child process and checked against the model itself."""

from __future__ import annotations

import json
import math

import pytest

from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.judging import review_generations
from ftstudio.evaluation.metrics import (classification_metrics, compute_model_metrics, metrics_table,
                                         predicted_label, text_metrics)
from ftstudio.evaluation.jobs import SubprocessBackend
from tests.evaluation_fixtures import FakeBackend, finished_run


def test_rouge_bleu_and_exact_match_match_hand_computed_values():
    same = text_metrics(["the cat sat on the mat."], ["the cat  sat on the mat."])
    assert same["exact_match"] == 1.0 and same["rouge1"] == pytest.approx(1.0) and same["bleu"] == pytest.approx(100)
    # Exact match ignores case and spacing; BLEU, as is usual, does not ignore case.
    cased = text_metrics(["The cat sat on the mat."], ["the cat sat on the mat."])
    assert cased["exact_match"] == 1.0 and cased["bleu"] < 100
    # Unigrams: 5 of 6 shared (the, cat, on, the, mat); bigrams: 3 of 5 (the cat, on the, the mat).
    near = text_metrics(["the cat is on the mat"], ["the cat sat on the mat"])
    assert near["rouge1"] == pytest.approx(5 / 6) and near["rouge2"] == pytest.approx(3 / 5)
    assert near["rougeL"] == pytest.approx(5 / 6) and near["exact_match"] == 0.0
    # BLEU: precisions 5/6, 3/5, 1/4 and no 4-gram (sacrebleu's exp smoothing: 1/(2*3)); same length, no penalty.
    assert near["bleu"] == pytest.approx(100 * (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25, abs=1e-6)
    assert text_metrics([], [])["bleu"] is None


def test_labels_are_read_from_outputs_and_scored_with_accuracy_and_macro_f1():
    labels = ["phishing", "legit"]
    assert predicted_label("Phishing.", labels) == "phishing"
    assert predicted_label("legit\nBecause the sender is known.", labels) == "legit"
    assert predicted_label("This looks like phishing to me, not legit.", labels) == "phishing"
    assert predicted_label("No idea", labels) == "(no label)"
    outputs = ["phishing", "phishing", "legit", "no idea"]
    references = ["phishing", "legit", "legit", "legit"]
    scores = classification_metrics(outputs, references, labels)
    assert scores["accuracy"] == pytest.approx(2 / 4) and scores["unlabeled_outputs"] == 1
    # phishing: precision 1/2, recall 1/1 -> F1 2/3; legit: precision 1/1, recall 1/3 -> F1 1/2.
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_structured_projects_get_json_validity_and_schema_conformance(store, settings, tiny_model_dir, tmp_path):
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    project = store.get_project(run.project_id)
    store.update_project(project.id, json_schema={"type": "object", "required": ["depot"],
                                                  "properties": {"depot": {"type": "integer"}}})
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    outputs = ['{"depot": 1}', '{"depot": "one"}', "depot 1", '{"depot": 2}']
    generations = sorted(review_generations(store, review).values(), key=lambda g: g.id)
    tuned = [g for g in generations if g.system == run.system]
    with store.transaction() as tx:
        for generation, output in zip(tuned, outputs):
            tx.execute("UPDATE generations SET output = ? WHERE id = ?", [output, generation.id])
    row = next(r for r in metrics_table(store, review) if r["system"] == run.system)
    n = len(tuned)
    assert row["outputs"] == n and row["split"] == "test"
    assert row["json_valid"] == pytest.approx(3 / n) and row["schema_valid"] == pytest.approx(2 / n)
    assert row["perplexity"] is None and row["similarity"] is None  # not computed yet


def test_perplexity_and_similarity_run_in_the_child_and_match_the_model(store, settings, tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    backend = SubprocessBackend(settings.home / "generations", timeout=300)
    counts = compute_model_metrics(store, settings, review, backend)
    generations = [g for g in review_generations(store, review).values()]
    assert counts == {"perplexity": len(generations), "similarity": len(generations), "state": "finished"}
    scores = store.generation_metrics([g.id for g in generations])
    assert all(-1 <= scores[g.id]["similarity"] <= 1.0001 for g in generations)

    # The base model's perplexity of one reference, computed here by hand, equals what the child stored.
    base = next(g for g in generations if g.system == "base")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    prompt = tokenizer(base.prompt, add_special_tokens=False)["input_ids"]
    target = tokenizer(base.reference, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model(torch.tensor([prompt + target])).logits[0]
    log_probs = torch.log_softmax(logits[len(prompt) - 1:-1].float(), dim=-1)
    nll = -log_probs[torch.arange(len(target)), torch.tensor(target)].sum().item()
    assert scores[base.id]["reference_tokens"] == len(target)
    assert scores[base.id]["reference_nll"] == pytest.approx(nll, rel=1e-3)
    # The tuned system scores with its adapter on: another number.
    tuned = next(g for g in generations if g.system == run.system and g.item_key == base.item_key)
    assert scores[tuned.id]["reference_nll"] != pytest.approx(nll, rel=1e-3)

    rows = {r["system"]: r for r in metrics_table(store, review)}
    total_nll = sum(scores[g.id]["reference_nll"] for g in generations if g.system == "base")
    total_tokens = sum(scores[g.id]["reference_tokens"] for g in generations if g.system == "base")
    assert rows["base"]["perplexity"] == pytest.approx(math.exp(total_nll / total_tokens))
    assert rows["base"]["model_metrics_for"] == rows["base"]["with_reference"]
    assert compute_model_metrics(store, settings, review, backend) == {"perplexity": 0, "similarity": 0,
                                                                       "state": "finished"}
    json.dumps(rows)  # the report prints these as they are
