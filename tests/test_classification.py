"""Encoder classifiers and the feature baseline: real child-process runs on a tiny random BERT."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.training.config import TrainConfig
from ftstudio.training.folders import latest_complete_checkpoint
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.training.recipes.classification_metrics import class_weights, classification_summary
from ftstudio.versions import SplitPlan, freeze_version
from tests.conftest import wait_until

PHISHING = "verify your account password now click link urgent"
LEGITIMATE = "pallet delivery window invoice forecast depot team meeting"


def labeled_rows(count: int = 60) -> list[dict]:
    """Two in three legitimate, as the sample inbox; the words tell the classes apart."""
    rows = []
    for n in range(count):
        phishing = n % 3 == 0
        words = (PHISHING if phishing else LEGITIMATE).split()
        text = " ".join(words[(n + k) % len(words)] for k in range(4 + n % 5)) + f" message {n % 10}"
        rows.append({"text": text, "label": "phishing" if phishing else "legitimate"})
    return rows


@pytest.fixture
def mail(store, settings, tiny_encoder_dir, tmp_path):
    settings.base_model = str(tiny_encoder_dir)
    data = tmp_path / "mails.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in labeled_rows()))
    project = store.create_project("mail", "classification", labels=["phishing", "legitimate"])
    import_paths(store, project, [data])
    freeze_version(store, project, Template("instruction"), SplitPlan((0.6, 0.2, 0.2)))
    return project


def small(**overrides) -> TrainConfig:
    return TrainConfig(**{"max_steps": 8, "batch_size": 8, "max_length": 64, "eval_steps": 4, "save_steps": 4,
                          "learning_rate": 5e-3, **overrides})


def test_metrics_match_hand_computed_values():
    labels = ["phishing", "legitimate"]
    true = ["phishing", "phishing", "phishing", "legitimate", "legitimate", "legitimate", "legitimate", "legitimate"]
    predicted = ["phishing", "phishing", "legitimate", "legitimate", "legitimate", "legitimate", "legitimate",
                 "phishing"]
    summary = classification_summary(true, predicted, labels)
    assert summary["accuracy"] == pytest.approx(6 / 8)
    # phishing: precision 2/3, recall 2/3, F1 2/3; legitimate: precision 4/5, recall 4/5, F1 4/5.
    assert summary["per_class"]["phishing"]["precision"] == pytest.approx(2 / 3)
    assert summary["per_class"]["legitimate"]["recall"] == pytest.approx(4 / 5)
    assert summary["macro_f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert summary["confusion"] == {"labels": labels, "matrix": [[2, 1], [1, 4]]}
    assert class_weights(true, labels) == {"phishing": round(8 / (2 * 3), 4), "legitimate": round(8 / (2 * 5), 4)}


def test_an_encoder_lora_run_trains_the_head_saves_the_label_map_and_reloads_in_plain_peft(
        store, settings, mail, tiny_encoder_dir):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ftstudio.training.recipes.classification import predict, read_labels, read_split

    manager = RunManager(store, settings)
    run_id = manager.create_run(mail, "v1", small(), options={"weighted_loss": True})
    run = manager.wait(run_id, interval=0.5, timeout=300)
    run_dir = Path(run.run_dir)
    assert run.status == "finished", (run_dir / "worker.log").read_text()[-3000:]
    assert run.method == "lora" and run.step == 8 and run.eval_loss is not None
    recorded = json.loads(json.dumps(__import__("yaml").safe_load((run_dir / "run.yaml").read_text())))
    assert recorded["recipe"] == "sequence_classification" and recorded["recipe_options"] == {"weighted_loss": True}
    assert recorded["class_weights"]["phishing"] > recorded["class_weights"]["legitimate"]

    adapter = run_dir / "adapter"
    labels = read_labels(adapter)
    assert labels == ["phishing", "legitimate"]
    base = AutoModelForSequenceClassification.from_pretrained(
        tiny_encoder_dir, num_labels=2, id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    original = {k: v.clone() for k, v in base.state_dict().items()}
    tuned = PeftModel.from_pretrained(base, adapter)
    assert any(p.abs().sum() > 0 for n, p in tuned.named_parameters() if "lora_B" in n)
    for name, value in tuned.get_base_model().state_dict().items():
        key = name.replace(".base_layer", "").replace(".original_module", "")
        if key in original and "lora_" not in name and "modules_to_save" not in name:
            assert torch.equal(value, original[key]), f"base weight {key} changed"

    # The same predictions as the run's own, from plain transformers and PEFT.
    test_rows = read_split(run_dir, "test")
    again = predict(tuned, AutoTokenizer.from_pretrained(adapter), test_rows, labels, 64)
    stored = [json.loads(l) for l in (run_dir / "predictions.jsonl").read_text().splitlines()]
    stored_test = [r for r in stored if r["split"] == "test"]
    assert [r["predicted"] for r in again] == [r["predicted"] for r in stored_test]
    assert [r["probability"] for r in again] == pytest.approx([r["probability"] for r in stored_test], abs=1e-3)
    # Merged into a standalone classifier: plain transformers, the label map in its config, the same predictions.
    from ftstudio.training.results import merge_adapter, zip_adapter

    merged = merge_adapter(run, str(tiny_encoder_dir))
    standalone = AutoModelForSequenceClassification.from_pretrained(merged)
    assert standalone.config.id2label == {0: "phishing", 1: "legitimate"}
    assert [r["predicted"] for r in predict(standalone, AutoTokenizer.from_pretrained(merged), test_rows, labels, 64)] \
        == [r["predicted"] for r in stored_test]
    assert zip_adapter(run, run_dir / "exports").stat().st_size > 0
    results = json.loads((run_dir / "classification.json").read_text())
    assert results["test"]["examples"] == len(test_rows) >= 8
    assert sum(map(sum, results["test"]["confusion"]["matrix"])) == len(test_rows)


def test_an_encoder_run_cancels_resumes_and_full_fine_tuning_changes_the_encoder_weights(store, settings, mail,
                                                                                          tiny_encoder_dir):
    """One full fine-tuning run, cancelled and resumed from its checkpoint: it reaches its steps, and the saved
    encoder's weights moved from the base's."""
    from transformers import AutoModel

    manager = RunManager(store, settings)
    run_id = manager.create_run(mail, "v1", small(method="full", max_steps=80, save_steps=2, eval_steps=0))
    wait_until(lambda: manager.poll() or store.get_run(run_id).step >= 2, timeout=120, what="the run's step 2")
    manager.cancel(run_id)
    run = manager.wait(run_id, interval=0.3, timeout=120)
    assert run.status == "cancelled" and run.step < 80
    assert latest_complete_checkpoint(Path(run.run_dir)) is not None
    manager.resume(run_id)
    run = manager.wait(run_id, interval=0.5, timeout=300)
    assert run.status == "finished" and run.step == 80, (Path(run.run_dir) / "worker.log").read_text()[-2000:]
    base = AutoModel.from_pretrained(tiny_encoder_dir)
    tuned = AutoModel.from_pretrained(Path(run.run_dir) / "model")
    assert not torch.equal(base.encoder.layer[0].attention.self.query.weight,
                           tuned.encoder.layer[0].attention.self.query.weight)


def test_the_recipe_follows_the_model_and_refuses_what_does_not_fit(store, settings, mail, tiny_model_dir,
                                                                    tiny_encoder_dir):
    manager = RunManager(store, settings)
    with pytest.raises(RunError, match="features needs an encoder"):
        manager.create_run(mail, "v1", small(method="features"), base_model=str(tiny_model_dir))
    with pytest.raises(RunError, match="choose lora or full"):
        manager.create_run(mail, "v1", small(method="qlora"))
    posts = store.create_project("posts", "generation")
    (Path(settings.home) / "pairs.jsonl").write_text(json.dumps({"prompt": "a", "completion": "b"}))
    import_paths(store, posts, [Path(settings.home) / "pairs.jsonl"])
    freeze_version(store, posts, Template("alpaca"), SplitPlan((1.0, 0.0, 0.0)))
    with pytest.raises(RunError, match="it classifies, it does not write text"):
        manager.create_run(posts, "v1", small())


def test_cli_trains_an_encoder_and_reports_its_classification(tmp_path, tiny_encoder_dir):
    home = str(tmp_path / "home")

    def cli(*args):
        result = subprocess.run([sys.executable, "-m", "ftstudio", "--home", home, *args], capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    data = tmp_path / "mails.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in labeled_rows(30)))
    cli("import", str(data), "--project", "mail", "--task", "classification", "--labels", "phishing,legitimate")
    cli("freeze", "--project", "mail", "--split", "0.6,0.2,0.2")
    trained = json.loads(cli("train", "--project", "mail", "--version", "v1", "--base-model", str(tiny_encoder_dir),
                             "--max-steps", "3", "--max-length", "64", "--eval-steps", "0", "--json").stdout)
    assert trained["status"] == "finished" and trained["method"] == "lora"
    features = json.loads(cli("train", "--project", "mail", "--version", "v1", "--base-model", str(tiny_encoder_dir),
                              "--method", "features", "--json").stdout)
    assert features["status"] == "finished" and features["method"] == "features"
    for run in (trained, features):
        report = json.loads(cli("report", "--run", str(run["id"]), "--json").stdout)
        classification = report["classification"]
        assert set(classification) >= {"accuracy", "macro_f1", "per_class", "confusion"}
        assert sum(map(sum, classification["confusion"]["matrix"])) == 6
    feature_baseline_fits_a_logistic_regression_with_the_same_metrics(Path(features["run_dir"]), tiny_encoder_dir)


def feature_baseline_fits_a_logistic_regression_with_the_same_metrics(run_dir: Path, model_dir: Path):
    """The feature baseline's run folder: its metrics follow its predictions, and the saved regression on freshly
    computed embeddings gives the stored predictions."""
    import joblib
    from transformers import AutoModel, AutoTokenizer

    from ftstudio.training.recipes.classification import read_split
    from ftstudio.training.recipes.features import embed

    results = json.loads((run_dir / "classification.json").read_text())
    assert set(results["test"]) >= {"accuracy", "macro_f1", "per_class", "confusion"}
    predictions = [json.loads(l) for l in (run_dir / "predictions.jsonl").read_text().splitlines()]
    test = [p for p in predictions if p["split"] == "test"]
    assert results["test"]["accuracy"] == pytest.approx(sum(p["predicted"] == p["label"] for p in test) / len(test))
    classifier = joblib.load(run_dir / "features" / "classifier.joblib")
    texts = [r["text"] for r in read_split(run_dir, "test")]
    vectors = embed(AutoModel.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir), texts, 64, 32)
    assert list(classifier.predict(vectors)) == [p["predicted"] for p in test]


@pytest.mark.slow
def test_the_embedded_minilm_trains_on_the_sample_emails(store, settings):
    import csv

    from ftstudio.config import EMBEDDED_ENCODER
    from ftstudio.labeling import decide, next_task
    from ftstudio.samples import load_sample_projects, samples_dir

    load_sample_projects(store, settings)
    project = store.find_project("Sample: phishing emails")
    with (samples_dir() / "emails" / "labels.csv").open() as handle:
        labels = {row["message_id"]: row["label"] for row in csv.DictReader(handle)}
    while (task := next_task(store, project, "ana")) is not None:
        decide(store, project, "ana", task.item.id, "accepted", task.input, "",
               labels[task.item.metadata["message_id"]])
    freeze_version(store, project, Template("instruction"), SplitPlan((0.6, 0.2, 0.2)))
    manager = RunManager(store, settings)
    run = manager.wait(manager.create_run(project, "v1", TrainConfig(max_steps=3, batch_size=8, max_length=256,
                                                                      eval_steps=0, learning_rate=1e-3),
                                          base_model=EMBEDDED_ENCODER, options={"weighted_loss": True}),
                       interval=0.5, timeout=600)
    assert run.status == "finished", (Path(run.run_dir) / "worker.log").read_text()[-3000:]
    results = json.loads((Path(run.run_dir) / "classification.json").read_text())
    assert results["class_weights"]["phishing"] > 1 > results["class_weights"]["legitimate"]  # the 2:1 inbox
    assert results["test"]["examples"] >= 5 and results["test"]["macro_f1"] is not None


def test_the_memory_estimate_follows_the_recipe():
    from transformers import BertConfig

    from ftstudio.training.memory import estimate_memory
    from ftstudio.training.recipes import RECIPES

    minilm = BertConfig(hidden_size=384, intermediate_size=1536, num_hidden_layers=6, num_attention_heads=12)

    def needed(recipe, method):
        config = TrainConfig(method=method, batch_size=16, max_length=256)
        return estimate_memory(minilm, config, False, 64 * 2**30, "CPU", 4, RECIPES[recipe])

    lora, full = needed("sequence_classification", "lora"), needed("sequence_classification", "full")
    features = needed("feature_baseline", "features")
    assert full.parts["adapter+optimizer"] > 10 * lora.parts["adapter+optimizer"]  # every weight has Adam moments
    assert features.parts["adapter+optimizer"] == 0 and features.needed_bytes < lora.needed_bytes
    assert lora.parts["logits"] < 2**24  # a classification head scores labels, not a 30k vocabulary (1.5 GiB)
