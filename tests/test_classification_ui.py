"""The classifier panels through the app's HTTP API: one click trains the feature baseline, and the results show
its accuracy, F1 and confusion matrix beside the other classifier runs."""

import json

from gradio_client import Client

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.versions import SplitPlan, freeze_version
from tests.conftest import wait_until
from tests.test_classification import labeled_rows


def test_one_click_feature_baseline_and_its_results(live_app, tiny_encoder_dir, tmp_path):
    url, store = live_app
    data = tmp_path / "mails.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in labeled_rows(30)))
    project = store.create_project("mail", "classification", labels=["phishing", "legitimate"])
    import_paths(store, project, [data])
    freeze_version(store, project, Template("instruction"), SplitPlan((0.6, 0.2, 0.2)))
    client = Client(url, verbose=False)
    notice = client.predict("mail", "v1", str(tiny_encoder_dir), False, 16, 64, api_name="/train_feature_baseline")
    assert "started" in notice or "queued" in notice, notice
    run = wait_until(lambda: next((r for r in store.list_runs(project.id) if r.status in ("finished", "failed")),
                                  None), timeout=120, what="the baseline run to end")
    assert run.status == "finished" and run.method == "features"
    side, _, headline, confusion, per_class, wrong = client.predict("mail", str(run.id), api_name="/classifier_results")
    assert [row[0] for row in side["data"]] == [run.id] and side["data"][0][1] == "features"
    assert "accuracy" in headline and "macro-F1" in headline
    assert sorted(row[0] for row in per_class["data"]) == ["legitimate", "phishing"]
    assert confusion is not None
    # Predictions are stored like generations, so the rest of the results see them.
    from ftstudio.training.classification_results import stored_predictions

    from pathlib import Path

    from ftstudio.training.recipes.classification_metrics import read_predictions

    assert len(stored_predictions(store, run)) == len(read_predictions(Path(run.run_dir))) > 0
