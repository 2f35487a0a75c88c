"""The Train tab: launch LoRA/QLoRA runs on frozen versions, follow them live, cancel, resume, compare, export."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.models import ModelError, materialize
from ftstudio.store import Store, StoreError
from ftstudio.training import results
from ftstudio.training.config import (BATCHING, COMPILE, DPO_LEARNING_RATE, DPO_LOSSES, OBJECTIVES,
                                      TrainConfig, help_texts)
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.training.recipes import RECIPES  # encoders train from the classifier panel (classification_view)
from ftstudio.ui.handlers import Guard
from ftstudio.ui.format import message

RUN_COLUMNS = ["id", "status", "version", "method", "base model", "step", "train loss", "val loss", "started"]
MAIN_FIELDS = ("r", "alpha", "learning_rate", "epochs", "max_steps", "batch_size", "max_length")
MORE_FIELDS = ("dropout", "target_modules", "scheduler", "warmup_ratio", "grad_accumulation", "batching",
               "completion_only", "compile", "seed", "eval_steps", "save_steps", "compute_dtype", "double_quant",
               "divergence_factor")
DPO_FIELDS = ("beta", "loss_type", "label_smoothing", "max_prompt_length", "max_completion_length", "from_run")
OBJECTIVE_HELP = ("sft: learn to write the outputs of input/output pairs · dpo: learn to prefer the chosen answer "
                  "of preference pairs (frozen from review votes on the Datasets tab)")
REWARD_CURVES = {"rewards/margins": "reward margin", "rewards/accuracies": "reward accuracy",
                 "rewards/chosen": "reward of chosen", "rewards/rejected": "reward of rejected"}
DETAILS = """
- **Precision (compute dtype).** `auto` times one bf16 and one fp32 matrix product when a run starts and trains in
  bf16 where it is at least 1.5× faster (GPUs from Ampere on; CPUs with AVX512-BF16 or AMX), else in fp32.
- **QLoRA.** The base weights are stored in 4-bit NF4 through bitsandbytes (about 0.56 bytes per weight instead of
  2 or 4), with double quantization of the scales; the adapter trains in the compute dtype.
- **Batching.** `auto` is group_by_length on CPUs and packing on GPUs, each measured fastest there by `ftstudio bench
  train`.
- **Compile.** torch.compile of the decoder layers (C++ kernels on CPUs, which needs g++).
- **Stop when the loss grows.** The run stops, with the reason, when the training loss exceeds this factor times its
  first logged value, or is not a number.
"""


def _runs_frame(runs: list) -> pd.DataFrame:
    def number(value):
        return "" if value is None else f"{value:.4f}"

    return pd.DataFrame([[r.id, r.status, r.version_name or "", r.method, Path(str(r.base_model)).name,
                          f"{r.step}/{r.max_steps or '?'}", number(r.train_loss), number(r.eval_loss),
                          f"{r.started_at:%m-%d %H:%M}" if r.started_at else ""] for r in runs],
                        columns=RUN_COLUMNS)


def _curve_figure(named_curves: list[tuple[str, dict]]):
    import plotly.graph_objects as go

    figure = go.Figure()
    for name, curve in named_curves:
        if curve["train"]:
            steps, losses = zip(*curve["train"])
            figure.add_trace(go.Scatter(x=steps, y=losses, mode="lines", name=f"{name} train"))
        if curve["eval"]:
            steps, losses = zip(*curve["eval"])
            figure.add_trace(go.Scatter(x=steps, y=losses, mode="lines+markers", name=f"{name} validation"))
    figure.update_layout(height=340, margin={"l": 60, "r": 20, "t": 50, "b": 50}, xaxis_title="step",
                         yaxis_title="loss", template="plotly_white", legend={"orientation": "h"})
    return figure


def _rewards_figure(curve: dict):
    """DPO's curves: how far the chosen answers' reward is above the rejected ones', and how often it is."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for key, label in REWARD_CURVES.items():
        points = curve.get("rewards", {}).get(key)
        if points:
            steps, values = zip(*points)
            figure.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=label))
    figure.update_layout(height=300, margin={"l": 60, "r": 20, "t": 40, "b": 50}, xaxis_title="step",
                         yaxis_title="reward (log-ratio × beta)", template="plotly_white", legend={"orientation": "h"})
    return figure


def _version_choices(versions: list) -> list[tuple[str, str]]:
    return [(f"{v.name} · preference pairs" if v.is_preferences else v.name, v.name) for v in versions]


def _start_choices(runs: list) -> list[tuple[str, int]]:
    return [("none: a new adapter on the base model", 0)] + [
        (f"run {r.id} ({r.method} on {r.version_name or 'an imported version'})", r.id)
        for r in runs if r.status == "finished"]


def _widget(name: str, default, help_text: str):
    label = name.replace("_", " ")
    if name == "loss_type":
        return gr.Dropdown(list(DPO_LOSSES), value=default, label=label, info=help_text)
    if name == "from_run":
        return gr.Dropdown([("none: a new adapter on the base model", 0)], value=0, label="start from run",
                           info=help_text, elem_id="train-from-run")
    if name == "batching":
        return gr.Dropdown(list(BATCHING), value=default, label=label, info=help_text)
    if name == "compile":
        return gr.Dropdown(list(COMPILE), value=default, label=label, info=help_text)
    if name == "scheduler":
        return gr.Dropdown(["cosine", "linear", "constant"], value=default, label=label, info=help_text)
    if name == "compute_dtype":
        return gr.Dropdown(["auto", "float32", "bfloat16", "float16"], value=default, label=label, info=help_text)
    if isinstance(default, bool):
        return gr.Checkbox(value=default, label=label, info=help_text)
    if isinstance(default, int):
        return gr.Number(value=default, precision=0, label=label, info=help_text)
    if isinstance(default, float):
        return gr.Number(value=default, label=label, info=help_text)
    return gr.Textbox(value=default, label=label, info=help_text, max_lines=1)


def create_train_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings, manager: RunManager,
                     project: gr.Dropdown) -> None:
    defaults, helps = TrainConfig().to_dict(), help_texts()
    gr.Markdown("### New run")
    with gr.Row():
        version = gr.Dropdown([], label="Dataset version", info="Runs train only on a frozen version.",
                              allow_custom_value=True, elem_id="train-version")
        objective = gr.Radio(list(OBJECTIVES), value="sft", label="Objective", info=OBJECTIVE_HELP,
                             elem_id="train-objective")
        method = gr.Radio(list(RECIPES["causal_sft"].methods), value="lora", label="Method",
                          info="lora: the usual choice · qlora: uses about a quarter of the memory, for models too "
                               "big to fit (slower on a CPU)")
    objective_note = gr.Markdown(elem_id="train-objective-note")
    with gr.Row():
        widgets = {name: _widget(name, defaults[name], helps[name]) for name in MAIN_FIELDS}
    with gr.Accordion("More settings", open=False):
        with gr.Row():
            widgets.update({name: _widget(name, defaults[name], helps[name]) for name in MORE_FIELDS[:6]})
        with gr.Row():
            widgets.update({name: _widget(name, defaults[name], helps[name]) for name in MORE_FIELDS[6:]})
        with gr.Accordion("What these settings do, in detail", open=False):
            gr.Markdown(DETAILS)
    with gr.Accordion("DPO settings", open=True, visible=False, elem_id="train-dpo") as dpo_settings:
        with gr.Row():
            widgets.update({name: _widget(name, defaults[name], helps[name]) for name in DPO_FIELDS[:3]})
        with gr.Row():
            widgets.update({name: _widget(name, defaults[name], helps[name]) for name in DPO_FIELDS[3:]})
    start = gr.Button("Start training", variant="primary", elem_id="train-start")
    start_notice = gr.Markdown(elem_id="train-notice")

    gr.Markdown("### Runs")
    runs_table = gr.Dataframe(pd.DataFrame(columns=RUN_COLUMNS), interactive=False, elem_id="runs-table")
    with gr.Row(equal_height=True):
        run_pick = gr.Dropdown([], label="Run", allow_custom_value=True, elem_id="run-pick", scale=2)
        cancel_button = gr.Button("Cancel", scale=1, elem_id="run-cancel")
        resume_button = gr.Button("Resume", scale=1, elem_id="run-resume")
    progress = gr.Markdown(elem_id="run-progress")
    curve = gr.Plot(label="Loss", elem_id="run-curve")
    rewards_plot = gr.Plot(label="Preference rewards (DPO)", visible=False, elem_id="run-rewards")
    with gr.Accordion("Export the adapter", open=False):
        with gr.Row():
            zip_button = gr.Button("Download adapter (.zip)", elem_id="download-adapter")
            merge_button = gr.Button("Merge into a full model (.zip)", elem_id="merge-adapter")
        adapter_file = gr.File(label="Download", interactive=False, elem_id="adapter-file")
        with gr.Row():
            hub_repo = gr.Textbox(label="Hub model repository (needs HF_TOKEN)", placeholder="your-name/post-writer-lora")
            push_button = gr.Button("Push to the Hub")
        export_notice = gr.Markdown()
    with gr.Accordion("Compare two runs", open=False):
        with gr.Row():
            compare_a = gr.Dropdown([], label="Run A", allow_custom_value=True)
            compare_b = gr.Dropdown([], label="Run B", allow_custom_value=True)
            compare_button = gr.Button("Compare")
        difference = gr.Dataframe(pd.DataFrame(columns=["setting", "A", "B", "differs"]), interactive=False)
        compare_curve = gr.Plot(label="Loss, both runs")
    timer = gr.Timer(2.0, active=True)

    field_names = list(MAIN_FIELDS) + list(MORE_FIELDS) + list(DPO_FIELDS)

    # --- handlers ---

    def selected(picked):
        found = picked
        if found is None:
            raise StoreError("Pick a project on the Data tab first.")
        return found

    def on_start(caller, picked, version_name, objective_value, method_value, *values):
        try:
            chosen = selected(picked)
            config = TrainConfig.from_dict({"objective": objective_value, "method": method_value,
                                            **dict(zip(field_names, values))})
            for name, default in defaults.items():  # gr.Number gives floats; keep each field's own type
                value = getattr(config, name)
                if isinstance(default, int) and not isinstance(default, bool) and value is not None:
                    setattr(config, name, int(value))
            run_id = manager.create_run(chosen, version_name or "", config, user_name=caller.name)
        except (StoreError, RunError, ModelError, ValueError) as error:
            return message(str(error), "error"), gr.update()
        # The settings a run started with come back next time this project is opened.
        store.update_project(chosen.id, settings={"train": config.to_dict()})
        run = store.get_run(run_id)
        note = "started" if run.status == "running" else "queued behind the running one"
        return message(f"Run {run_id} {note}.", "ok"), gr.update(value=str(run_id))

    def run_choices(picked):
        chosen = picked
        runs = store.list_runs(chosen.id) if chosen else []
        return runs, [str(r.id) for r in runs]

    def on_refresh(picked, run_value):
        runs, choices = run_choices(picked)
        current = run_value if run_value in choices else (choices[0] if choices else None)
        run = store.get_run(int(current)) if current else None
        if run is None:
            return (_runs_frame(runs), gr.update(choices=choices, value=current), "No runs yet.", None,
                    gr.update(visible=False))
        curve_data = results.curves(Path(run.run_dir))
        line = results.progress_text(run, curve_data)
        if run.method.startswith("dpo") and run.status == "finished":
            line += (f"\n\nDid preference tuning help? On the **Review** tab pick run {run.id} and generate: it "
                     "answers the test prompts it did not train on beside the model it started from, blind.")
        rewards = curve_data.get("rewards")
        return (_runs_frame(runs), gr.update(choices=choices, value=current), line,
                _curve_figure([(f"run {run.id}", curve_data)]),
                gr.update(value=_rewards_figure(curve_data), visible=True) if rewards else gr.update(visible=False))

    def on_cancel(run_value):
        try:
            manager.cancel(int(run_value))
        except (RunError, ValueError, TypeError) as error:
            return message(f"Nothing cancelled: {error}", "error")
        return message(f"Cancelling run {run_value}: it stops after its current step, keeping a checkpoint.", "ok")

    def on_resume(run_value):
        try:
            manager.resume(int(run_value))
        except (RunError, ValueError, TypeError) as error:
            return message(f"Nothing resumed: {error}", "error")
        return message(f"Run {run_value} resumes from its last checkpoint.", "ok")

    def _run(run_value):
        run = store.get_run(int(run_value)) if run_value else None
        if run is None:
            raise ValueError("Pick a run first.")
        return run

    def on_zip(run_value):
        try:
            archive = results.zip_adapter(_run(run_value), settings.home / "exports")
        except ValueError as error:
            return None, message(str(error), "error")
        return str(archive), message("The adapter in PEFT's format: load it with PeftModel.from_pretrained(base, "
                                     "folder) after unzipping.", "ok")

    def on_merge(run_value):
        try:
            run = _run(run_value)
            folder = results.merge_adapter(run, materialize(run.base_model, settings.model_cache))
            archive = results.zip_folder(folder, settings.home / "exports", f"{run.name}-merged")
        except (ValueError, ModelError) as error:
            return None, message(str(error), "error")
        return str(archive), message("A standalone model with the adapter folded in: load it with "
                                     "AutoModelForCausalLM.from_pretrained after unzipping, or push it below.", "ok")

    def on_push(run_value, repo):
        try:
            url = results.push_adapter(_run(run_value), (repo or "").strip(), os.environ.get("HF_TOKEN"))
        except Exception as error:  # network and Hub errors come in many types; show them, lose nothing
            return message(f"Push failed: {error}", "error")
        return message(f"Pushed to {url}", "ok")

    def on_compare(a, b):
        try:
            first, second = _run(a), _run(b)
        except ValueError:
            return pd.DataFrame(columns=["setting", "A", "B", "differs"]), None
        rows = [[name, str(x), str(y), "●" if differs else ""] for name, x, y, differs
                in results.settings_difference(first, second)]
        figure = _curve_figure([(f"A (run {first.id})", results.curves(Path(first.run_dir))),
                                (f"B (run {second.id})", results.curves(Path(second.run_dir)))])
        return pd.DataFrame(rows, columns=["setting", "A", "B", "differs"]), figure

    def start_update(runs, value):
        options = _start_choices(runs)
        return gr.update(choices=options, value=value if value in [v for _, v in options] else 0)

    def on_project(picked):
        chosen = picked
        found = store.list_versions(chosen.id) if chosen else []
        runs, choices = run_choices(picked)
        saved = TrainConfig.from_dict({**defaults, **((chosen.settings.get("train") or {}) if chosen else {})})
        values = [start_update(runs, saved.from_run) if name == "from_run" else getattr(saved, name)
                  for name in field_names]
        return (gr.update(choices=_version_choices(found), value=found[0].name if found else None),
                gr.update(choices=choices), gr.update(choices=choices), saved.method, *values, saved.objective)

    def on_version(picked, version_name, objective_value, learning_rate):
        """Preference pairs train with DPO, input/output pairs with SFT: the objective follows the version."""
        chosen = picked
        found = store.find_version(chosen.id, version_name) if chosen and version_name else None
        if found is None:
            return gr.update(), "", gr.update()
        wanted = "dpo" if found.is_preferences else "sft"
        note = (message(f"{found.name} holds preference pairs: it trains with DPO, from the base model or from a "
                        "finished run's adapter (DPO settings below).", "info") if found.is_preferences else "")
        rate = gr.update()
        if wanted != objective_value:  # the other objective's usual learning rate, unless one was typed
            sft_rate = defaults["learning_rate"]
            if wanted == "dpo" and learning_rate == sft_rate:
                rate = DPO_LEARNING_RATE
            elif wanted == "sft" and learning_rate == DPO_LEARNING_RATE:
                rate = sft_rate
        return wanted, note, rate

    def on_objective(objective_value):
        return gr.update(visible=objective_value == "dpo")

    hidden = {"api_visibility": "undocumented"}
    refresh_outputs = [runs_table, run_pick, progress, curve, rewards_plot]
    version.change(guard("train", on_version, quiet=True), [project, version, objective, widgets["learning_rate"]],
                   [objective, objective_note, widgets["learning_rate"]], **hidden)
    objective.change(guard("train", on_objective, project=False, quiet=True), objective, dpo_settings, **hidden)
    start.click(guard("train", on_start), [project, version, objective, method, *[widgets[n] for n in field_names]],
                [start_notice, run_pick],
                api_name="train", concurrency_limit=1, concurrency_id="store-writes").then(
        guard("train", on_refresh, quiet=True), [project, run_pick], refresh_outputs, **hidden)
    timer.tick(guard("train", on_refresh, quiet=True), [project, run_pick], refresh_outputs, show_progress="hidden", **hidden)
    run_pick.change(guard("train", on_refresh, quiet=True), [project, run_pick], refresh_outputs, show_progress="hidden", **hidden)
    cancel_button.click(guard("train", on_cancel, project=False), run_pick, start_notice, api_name="cancel_run")
    resume_button.click(guard("train", on_resume, project=False), run_pick, start_notice, api_name="resume_run")
    zip_button.click(guard("train", on_zip, project=False), run_pick, [adapter_file, export_notice], api_name="download_adapter")
    merge_button.click(guard("train", on_merge, project=False), run_pick, [adapter_file, export_notice], api_name="merge_adapter")
    push_button.click(guard("train", on_push, project=False), [run_pick, hub_repo], export_notice, **hidden)
    compare_button.click(guard("train", on_compare, project=False), [compare_a, compare_b], [difference, compare_curve], api_name="compare_runs")
    project_outputs = [version, compare_a, compare_b, method, *[widgets[n] for n in field_names], objective]
    # A project's last used settings come back once when it is chosen or the tab first shows it; later visits and
    # repeated change events keep what was typed. Both events go through one queue slot, so each sees the other's
    # State, and only one of them restores.
    restored_for = gr.State(None)
    serial = {"concurrency_limit": 1, "concurrency_id": "train-settings"}

    def on_tab(picked, version_value, already_restored):
        """The project's saved settings if not shown yet; else only new versions and runs since the page loaded."""
        name = picked.name if picked else None
        if already_restored != name:
            return (*on_project(picked), name)
        chosen = picked
        found = store.list_versions(chosen.id) if chosen else []
        names = [v.name for v in found]
        runs, choices = run_choices(picked)
        value = version_value if version_value in names else (names[0] if names else None)
        # New finished runs become startable; every typed setting stays as it is.
        fields = [gr.update(choices=_start_choices(runs)) if name == "from_run" else gr.update()
                  for name in field_names]
        return (gr.update(choices=_version_choices(found), value=value), gr.update(choices=choices),
                gr.update(choices=choices), gr.update(), *fields, gr.update(), name)

    project.change(guard("train", on_tab, quiet=True), [project, version, restored_for], project_outputs + [restored_for], **serial, **hidden)
    tab.select(guard("train", on_tab, quiet=True), [project, version, restored_for], project_outputs + [restored_for], **serial, **hidden)
