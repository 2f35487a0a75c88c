"""Encoder classifiers in the browser: a Train-tab panel that trains an encoder (LoRA or full) or the feature
baseline with only the settings that apply to them, and a Results-tab panel with accuracy, macro-F1, the confusion
matrix and the misclassified test items, the baseline beside the fine-tuned runs."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftstudio.config import EMBEDDED_ENCODER, Settings
from ftstudio.models import ModelError
from ftstudio.store import Store, StoreError
from ftstudio.training import classification_results as classified
from ftstudio.training.config import TrainConfig, help_texts
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.training.recipes import FAMILY_HELP, ClassifierOptions, RecipeError
from ftstudio.ui.handlers import Guard
from ftstudio.ui.format import escape, message

ENCODER_FIELDS = ("learning_rate", "epochs", "max_steps", "batch_size", "max_length")
# An encoder's LoRA with a fresh head learns faster than a causal LM's: its usual learning rate is higher.
ENCODER_DEFAULTS = {"learning_rate": 1e-3, "epochs": 3.0, "max_steps": 0, "batch_size": 16, "max_length": 256}
SIDE_COLUMNS = ["run", "method", "base model", "version", "split", "accuracy", "macro-F1", "validation macro-F1"]
WRONG_COLUMNS = ["example", "true label", "predicted", "confidence", "text"]
PER_CLASS_COLUMNS = ["label", "precision", "recall", "F1", "support"]
FAMILY_NOTE = "Which family fits which task: " + " · ".join(FAMILY_HELP.values())


def _weights_markdown(weights: dict) -> str:
    if not weights:
        return ""
    parts = [f"{escape(label)}: {entry['count']} examples, weight {entry['weight']:g}" for label, entry in weights.items()]
    return "Training split: " + " · ".join(parts) + " (weighted loss multiplies each class's loss by its weight)"


def create_classifier_panel(app: gr.Blocks, store: Store, guard: Guard, settings: Settings, manager: RunManager,
                            project: gr.Dropdown) -> None:
    helps = help_texts()
    with gr.Accordion("Encoder classifier (classification projects)", open=False,
                      elem_id="classifier-panel") as panel:
        gr.Markdown(FAMILY_NOTE)
        with gr.Row():
            version = gr.Dropdown([], label="Dataset version", allow_custom_value=True, elem_id="classifier-version")
            base_model = gr.Textbox(EMBEDDED_ENCODER, label="Encoder", max_lines=1, elem_id="classifier-model",
                                    info="The embedded MiniLM, a local folder or a Hub id; its family is read from "
                                         "its config.")
            method = gr.Radio(["lora", "full"], value="lora", label="Method",
                              info="lora: an adapter, the head trained in full · full: every weight")
        family = gr.Markdown(elem_id="classifier-family")
        weights = gr.Markdown(elem_id="classifier-weights")
        with gr.Row():
            weighted = gr.Checkbox(False, label="Weighted loss", info=ClassifierOptions.__dataclass_fields__[
                "weighted_loss"].metadata["help"], elem_id="classifier-weighted")
            fields = [gr.Number(value=ENCODER_DEFAULTS[name], label=name.replace("_", " "), info=helps[name],
                                precision=None if isinstance(ENCODER_DEFAULTS[name], float) else 0)
                      for name in ENCODER_FIELDS]
        with gr.Row():
            start = gr.Button("Train the encoder", variant="primary", elem_id="classifier-start")
            baseline = gr.Button("Feature baseline (seconds)", elem_id="classifier-baseline")
        notice = gr.Markdown(elem_id="classifier-notice")

    def chosen_project(found):
        if found is None:
            raise StoreError("Pick a project on the Data tab first.")
        return found

    def on_project(picked):
        found = picked
        versions = [v.name for v in store.list_versions(found.id) if not v.is_preferences] if found else []
        # A classification project's usual run is an encoder: its panel opens by itself there.
        return (gr.update(choices=versions, value=versions[0] if versions else None),
                gr.update(open=bool(found) and found.task_type == "classification"))

    def on_version(picked, version_name):
        found = picked
        if found is None or found.task_type != "classification":
            return ""
        return _weights_markdown(classified.version_class_weights(store, found, version_name))

    def on_model(spec):
        try:
            return "Family: " + escape(classified.describe_family(spec or EMBEDDED_ENCODER, settings.model_cache))
        except (ModelError, OSError, ValueError) as error:
            return message(f"Could not read this model's config: {error}", "error")

    def launch(caller, picked, version_name, spec, method_value, weighted_value, values):
        try:
            config = TrainConfig(method=method_value, **{
                name: (int(value) if isinstance(ENCODER_DEFAULTS[name], int) else float(value))
                for name, value in zip(ENCODER_FIELDS, values)})
            run_id = manager.create_run(chosen_project(picked), version_name or "", config,
                                        base_model=(spec or EMBEDDED_ENCODER).strip(),
                                        options={"weighted_loss": bool(weighted_value)}, user_name=caller.name)
        except (StoreError, RunError, RecipeError, ModelError, ValueError, TypeError) as error:
            return message(str(error), "error")
        run = store.get_run(run_id)
        note = "started" if run.status == "running" else "queued behind the running one"
        return message(f"Run {run_id} ({config.method}) {note}: follow it under Runs below; its accuracy, F1 and "
                       "confusion matrix appear on the Results tab when it finishes.", "ok")

    def on_start(caller, picked, version_name, spec, method_value, weighted_value, *values):
        return launch(caller, picked, version_name, spec, method_value, weighted_value, values)

    def on_baseline(caller, picked, version_name, spec, weighted_value, batch_size, max_length):
        values = [ENCODER_DEFAULTS["learning_rate"], ENCODER_DEFAULTS["epochs"], 0, batch_size, max_length]
        return launch(caller, picked, version_name, spec, "features", weighted_value, values)

    hidden = {"api_visibility": "undocumented"}
    project.change(guard("train", on_project, quiet=True), project, [version, panel], **hidden)
    app.load(guard("train", on_project, quiet=True), project, [version, panel], **hidden)
    version.change(guard("train", on_version, quiet=True), [project, version], weights, **hidden)
    base_model.blur(guard("train", on_model, project=False), base_model, family, **hidden)
    start.click(guard("train", on_start), [project, version, base_model, method, weighted, *fields], notice,
                api_name="train_classifier", concurrency_limit=1, concurrency_id="store-writes")
    baseline.click(guard("train", on_baseline), [project, version, base_model, weighted, fields[3], fields[4]], notice,
                   api_name="train_feature_baseline", concurrency_limit=1, concurrency_id="store-writes")


def confusion_figure(entry: dict):
    import plotly.graph_objects as go

    confusion = entry.get("confusion") or {}
    labels, matrix = confusion.get("labels") or [], confusion.get("matrix") or []
    figure = go.Figure(go.Heatmap(z=matrix, x=[f"predicted {l}" for l in labels], y=[f"true {l}" for l in labels],
                                  text=matrix, texttemplate="%{text}", colorscale="Blues", showscale=False))
    figure.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(autorange="reversed"),
                         title=f"Confusion matrix, {entry.get('split')} split")
    return figure


def _number(value) -> str:
    return "" if value is None else f"{value:.3f}"


def side_by_side_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([[r["run"], r["method"], r["base_model"], r["version"] or "", r["split"], _number(r["accuracy"]),
                          _number(r["macro_f1"]), _number(r["validation_macro_f1"])] for r in rows],
                        columns=SIDE_COLUMNS)


def create_classification_results(app: gr.Blocks, store: Store, guard: Guard, project: gr.Dropdown) -> None:
    with gr.Accordion("Classifiers: accuracy, F1 and confusion matrix", open=True, elem_id="classifier-results",
                      visible=False) as panel:
        with gr.Row():
            run_pick = gr.Dropdown([], label="Classifier run", allow_custom_value=True, elem_id="classifier-run")
            refresh = gr.Button("Refresh", size="sm", scale=0, min_width=120, elem_id="classifier-refresh")
        side = gr.Dataframe(pd.DataFrame(columns=SIDE_COLUMNS), interactive=False, elem_id="classifier-side",
                            label="Fine-tuned runs and the feature baseline, side by side")
        headline = gr.Markdown(elem_id="classifier-headline")
        with gr.Row():
            confusion = gr.Plot(elem_id="classifier-confusion", label="Confusion matrix")
            per_class = gr.Dataframe(pd.DataFrame(columns=PER_CLASS_COLUMNS), interactive=False,
                                     elem_id="classifier-per-class", label="Per class")
        wrong = gr.Dataframe(pd.DataFrame(columns=WRONG_COLUMNS), interactive=False, wrap=True,
                             elem_id="classifier-wrong", label="Misclassified test items, most confident first")

    def on_refresh(picked, run_value):
        found = picked
        rows = classified.side_by_side(store, found.id) if found else []
        choices = [str(r["run"]) for r in rows]
        current = run_value if run_value in choices else (choices[0] if choices else None)
        empty = (side_by_side_frame(rows), gr.update(choices=choices, value=current),
                 "No finished classifier run yet." if found else "", None,
                 pd.DataFrame(columns=PER_CLASS_COLUMNS), pd.DataFrame(columns=WRONG_COLUMNS))
        run = store.get_run(int(current)) if current else None
        entry = classified.classification_entry(run) if run else None
        if entry is None:
            return empty
        text = (f"Run {run.id} ({escape(run.method)}), {entry['split']} split of {entry['examples']} items: "
                f"accuracy **{entry['accuracy']:.3f}**, macro-F1 **{entry['macro_f1']:.3f}**")
        if entry.get("class_weights"):
            text += " · class weights " + ", ".join(f"{escape(k)} {v:g}" for k, v in entry["class_weights"].items())
            text += " (used)" if entry.get("weighted_loss") else " (not used)"
        classes = pd.DataFrame([[label, _number(s["precision"]), _number(s["recall"]), _number(s["f1"]), s["support"]]
                                for label, s in (entry.get("per_class") or {}).items()], columns=PER_CLASS_COLUMNS)
        mistakes = pd.DataFrame([[m["example_id"], m["label"], m["predicted"], _number(m["probability"]), m["text"]]
                                 for m in classified.misclassified(run)], columns=WRONG_COLUMNS)
        return (side_by_side_frame(rows), gr.update(choices=choices, value=current), text, confusion_figure(entry),
                classes, mistakes)

    outputs = [side, run_pick, headline, confusion, per_class, wrong]
    hidden = {"api_visibility": "undocumented"}
    refresh.click(guard("results", on_refresh), [project, run_pick], outputs, api_name="classifier_results")
    run_pick.change(guard("results", on_refresh, quiet=True), [project, run_pick], outputs, **hidden)
    project.change(guard("results", on_refresh, quiet=True), [project, run_pick], outputs, **hidden)
    app.load(guard("results", on_refresh, quiet=True), [project, run_pick], outputs, **hidden)

    def on_project_kind(picked):
        """The classifier panels only where classifiers are trained: a generation project has none to show."""
        return gr.update(visible=bool(picked) and picked.task_type == "classification")

    project.change(guard("results", on_project_kind, quiet=True), project, panel, **hidden)
    app.load(guard("results", on_project_kind, quiet=True), project, panel, **hidden)
