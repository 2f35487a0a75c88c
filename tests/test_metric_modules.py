"""The studio's metrics as local `evaluate` modules: the same numbers as the functions they replaced (kept here,
verbatim, as the reference), loaded by path with no network, and a project's own module added by path."""

from __future__ import annotations

import json
import math
import re
import socket
import subprocess
import sys
from collections import defaultdict

import pytest

from ftstudio.evaluation.metric_modules import (MetricModules, add_project_metric, builtin_path,
                                                project_metric_paths, remove_project_metric)
from ftstudio.evaluation.metrics import classification_metrics, json_metrics, text_metrics
from ftstudio.evaluation.systems import EvaluationError

# --- the implementation before the modules, verbatim (ftstudio/evaluation/metrics.py, before the switch) ---------

NO_LABEL = "(no label)"


def normalized(text):
    return " ".join((text or "").split()).casefold()


def predicted_label(output, labels):
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


def old_json_checks(output, schema):
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


def old_text_metrics(outputs, references):
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


def old_classification_metrics(outputs, references, labels):
    from sklearn.metrics import f1_score

    predicted = [predicted_label(o, labels) for o in outputs]
    truth = [predicted_label(r, labels) for r in references]
    if not outputs:
        return {"accuracy": None, "macro_f1": None, "unlabeled_outputs": 0}
    return {"accuracy": sum(p == t for p, t in zip(predicted, truth)) / len(outputs),
            "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
            "unlabeled_outputs": predicted.count(NO_LABEL)}


def old_json_metrics(outputs, schema):
    checks = [old_json_checks(o, schema) for o in outputs]
    conforming = [ok for _, ok in checks if ok is not None]
    return {"json_valid": sum(valid for valid, _ in checks) / len(checks),
            "schema_valid": (sum(conforming) / len(conforming)) if conforming else None}


# --- fixed inputs -----------------------------------------------------------------------------------------------

OUTPUTS = ["The pallet is in depot 3.", "in depot 2", "Running runners ran quickly to the station.", "",
           "Depot   1, bay 4", "I do not know where it is, sorry."]
REFERENCES = ["In depot 3.", "In depot 2", "A runner runs quickly to stations.", "In depot 0.", "depot 1, bay 4",
              "It is in depot 5."]
LABELS = ["billing", "shipping", "refund"]
CLASS_OUTPUTS = ["Billing", "shipping.\nbecause the parcel", "I think refund or billing", "no idea", "SHIPPING",
                 "refund"]
CLASS_REFERENCES = ["billing", "shipping", "billing", "refund", "refund", "refund"]
JSON_OUTPUTS = ['{"name": "Ana", "age": 3}', '{"name": "Ben"}', "not json", '[1, 2]', '{"age": "x"}']
SCHEMA = {"type": "object", "required": ["name"], "properties": {"age": {"type": "integer"}}}


def close(first: dict, second: dict) -> bool:
    assert set(first) == set(second), (first, second)
    return all((a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12))
               for a, b in ((first[k], second[k]) for k in first))


def test_the_modules_give_the_numbers_the_old_functions_gave():
    assert close(text_metrics(OUTPUTS, REFERENCES), old_text_metrics(OUTPUTS, REFERENCES))
    assert close(text_metrics(OUTPUTS[:1], REFERENCES[:1]), old_text_metrics(OUTPUTS[:1], REFERENCES[:1]))
    assert text_metrics([], []) == old_text_metrics([], [])
    assert close(classification_metrics(CLASS_OUTPUTS, CLASS_REFERENCES, LABELS),
                 old_classification_metrics(CLASS_OUTPUTS, CLASS_REFERENCES, LABELS))
    assert classification_metrics([], [], LABELS) == old_classification_metrics([], [], LABELS)
    for schema in (SCHEMA, None, {"type": 12}):  # a schema, none, a broken one
        assert close(json_metrics(JSON_OUTPUTS, schema), old_json_metrics(JSON_OUTPUTS, schema))


def test_the_modules_load_by_path_without_the_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("a metric module tried to open a network connection")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    modules = MetricModules()
    for name in ("rouge", "bleu", "exact_match", "accuracy"):
        assert modules.compute(name, predictions=["a b c"], references=["a b c"])
        # The studio calls the arithmetic directly; the evaluate module, loaded by its path, gives the same.
        assert modules.load(builtin_path(name)).compute(predictions=["a b c"], references=["a b c"]) == \
            modules.compute(name, predictions=["a b c"], references=["a b c"])
    assert modules.compute("json_validity", predictions=["{}"]) == {"json_valid": 1.0, "schema_valid": None}
    assert modules.load(builtin_path("json_validity")).compute(predictions=["{}"]) == {"json_valid": 1.0,
                                                                                       "schema_valid": None}
    assert builtin_path("rouge").joinpath("rouge.py").is_file()  # shipped inside the package, nowhere else


USER_METRIC = '''
import datasets
import evaluate


class LengthRatio(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="Mean answer length over reference length, in words.", citation="",
                                   inputs_description="", features=datasets.Features(
                                       {"predictions": datasets.Value("string"), "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        ratios = [len(p.split()) / max(1, len(r.split())) for p, r in zip(predictions, references)]
        return {"length_ratio": sum(ratios) / len(ratios), "longest": float(max(len(p.split()) for p in predictions))}
'''


def test_a_project_adds_its_own_evaluate_module_by_path(store, settings, tiny_model_dir, tmp_path):
    from ftstudio.evaluation import report
    from ftstudio.evaluation.compare import generate_and_review
    from tests.evaluation_fixtures import FakeBackend, finished_run

    module = tmp_path / "length_ratio"
    module.mkdir()
    (module / "length_ratio.py").write_text(USER_METRIC)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "broken.py").write_text("import evaluate\nraise RuntimeError('oops')\n")
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    with pytest.raises(EvaluationError, match="No evaluate module"):
        add_project_metric(store, project, tmp_path / "missing")
    with pytest.raises(EvaluationError, match="did not load as an evaluate module"):
        add_project_metric(store, project, broken)
    assert add_project_metric(store, project, module) == [str(module)]
    project = store.get_project(project.id)
    assert project_metric_paths(project) == [str(module)]
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    rows = report.full_results(store, review).metrics
    assert rows and all(row["user_metrics"]["length_ratio"] > 0 and "length_ratio.longest" in row["user_metrics"]
                        for row in rows)
    assert remove_project_metric(store, project, "length_ratio") == []
    assert "user_metrics" not in report.full_results(store, review).metrics[0]

    store.close()  # the same from the terminal
    cli = [sys.executable, "-m", "ftstudio", "--home", str(settings.home), "metrics", "--project", project.name]
    added = subprocess.run([*cli, "--add-metric", str(module), "--json"], capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stderr[-2000:]
    assert json.loads(added.stdout)["user"] == [{"name": "length_ratio", "path": str(module)}]


def test_the_results_tab_adds_a_module_and_shows_its_column(live_app, settings, tiny_model_dir, tmp_path):
    from gradio_client import Client

    from ftstudio.evaluation.compare import generate_and_review
    from tests.evaluation_fixtures import FakeBackend, finished_run

    url, store = live_app
    module = tmp_path / "length_ratio"
    module.mkdir()
    (module / "length_ratio.py").write_text(USER_METRIC)
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    generate_and_review(store, settings, run, backend=FakeBackend())
    client = Client(url, verbose=False)
    refused = client.predict(project.name, str(tmp_path / "nowhere"), api_name="/add_metric")
    assert "No evaluate module" in refused
    listed = client.predict(project.name, str(module), api_name="/add_metric")
    assert "Saved" in listed and project_metric_paths(store.get_project(project.id)) == [str(module)]
    shown = client.predict(project.name, str(run.id), api_name="/results")
    assert "length_ratio.longest" in repr(shown)  # the metrics table, with the module's columns
