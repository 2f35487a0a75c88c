"""The Train tab: launch LoRA/QLoRA runs on frozen versions, follow them live, cancel, resume, compare, export."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.models import ModelError, materialize
from ftstudio.run_folder import RunFolder
from ftstudio.store import Store, StoreError
from ftstudio.training import results
from ftstudio.training.config import DPO_LEARNING_RATE, OBJECTIVES, TrainConfig
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.training.recipes import RECIPES  # encoders train from the classifier panel (classification_view)
from ftstudio.ui.export_panel import layout_export_panel, wire_export_panel
from ftstudio.ui.handlers import Guard
from ftstudio.ui.train_cloud import CloudHandlers, CloudPanel, layout_cloud_panel, wire_cloud_panel
from ftstudio.ui.format import message
from ftstudio.ui.run_charts import curve_figure, rewards_figure
from ftstudio.ui.sweep_panel import create_sweep_panel
from ftstudio.ui.train_settings import (DPO_FIELDS, MAIN_FIELDS, MORE_FIELDS, NO_START_RUN, SETTING_FIELDS,
                                       setting_rows, widget_config)

RUN_COLUMNS = ["id", "status", "version", "method", "base model", "step", "train loss", "val loss", "started"]
OBJECTIVE_HELP = ("sft: learn to write the outputs of input/output pairs · dpo: learn to prefer the chosen answer "
                  "of preference pairs (frozen from review votes on the Datasets tab) · cpt: continue pre-training "
                  "on a text version's raw text · grpo: learn from a reward computed on sampled answers (JSON schema, label, "
                  "exact match; choose rewards with `ftstudio train --reward`)")
# Versions of each kind train with one objective (the note says so when one is picked): (objective, note).
KINDS = {"preferences": ("dpo", "holds preference pairs: it trains with DPO, from the base model or from a finished "
                                "run's adapter (DPO settings below)."),
         "text": ("cpt", "holds raw text: it continues pre-training (cpt), then an SFT run starts from that run.")}
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


def _version_choices(versions: list) -> list[tuple[str, str]]:
    return [(f"{v.name} · preference pairs" if v.is_preferences else f"{v.name} · raw text" if v.is_text else v.name,
             v.name) for v in versions]


def _start_choices(runs: list) -> list[tuple[str, int]]:
    return [NO_START_RUN] + [
        (f"run {r.id} ({r.method} on {r.version_name or 'an imported version'})", r.id)
        for r in runs if r.status == "finished"]


@dataclass
class TrainTab:
    """The Train tab's widgets."""

    version: gr.Dropdown
    objective: gr.Radio
    method: gr.Radio
    objective_note: gr.Markdown
    settings: dict  # TrainConfig field name -> widget, in SETTING_FIELDS order
    dpo_settings: gr.Accordion
    start: gr.Button
    start_notice: gr.Markdown
    runs_table: gr.Dataframe
    run_pick: gr.Dropdown
    cancel_button: gr.Button
    resume_button: gr.Button
    progress: gr.Markdown
    curve: gr.Plot
    rewards_plot: gr.Plot
    zip_button: gr.Button
    merge_button: gr.Button
    adapter_file: gr.File
    hub_repo: gr.Textbox
    push_button: gr.Button
    export_notice: gr.Markdown
    compare_a: gr.Dropdown
    compare_b: gr.Dropdown
    compare_button: gr.Button
    difference: gr.Dataframe
    compare_curve: gr.Plot
    timer: gr.Timer
    restored_for: gr.State  # the project whose saved settings the form shows
    cloud: CloudPanel | None = None  # "Run on: this machine | a cloud GPU (SkyPilot)"
    ticked: gr.State | None = None  # what the timer's last refresh showed (see TrainHandlers.tick)

    @property
    def setting_widgets(self) -> list:
        return [self.settings[name] for name in SETTING_FIELDS]


def layout_train_tab() -> TrainTab:
    """Lay the Train tab out: a new run's settings, the runs with their progress, export and comparison."""
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
    settings = setting_rows(MAIN_FIELDS, len(MAIN_FIELDS))
    with gr.Accordion("More settings", open=False):
        settings.update(setting_rows(MORE_FIELDS, 7))
        with gr.Accordion("What these settings do, in detail", open=False):
            gr.Markdown(DETAILS)
    with gr.Accordion("Start from a run · DPO settings", open=False, elem_id="train-dpo") as dpo_settings:
        settings.update(setting_rows(DPO_FIELDS, 3))
    cloud = layout_cloud_panel()
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
    rewards_plot = gr.Plot(label="Rewards (DPO, GRPO)", visible=False, elem_id="run-rewards")
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
    return TrainTab(version, objective, method, objective_note, settings, dpo_settings, start, start_notice,
                    runs_table, run_pick, cancel_button, resume_button, progress, curve, rewards_plot, zip_button,
                    merge_button, adapter_file, hub_repo, push_button, export_notice, compare_a, compare_b,
                    compare_button, difference, compare_curve, gr.Timer(2.0, active=True), gr.State(None),
                    cloud=cloud, ticked=gr.State(None))


class TrainHandlers:
    """The Train tab's handlers: each turns widget values into one call and answers with named updates."""

    def __init__(self, tab: TrainTab, store: Store, settings: Settings, manager: RunManager):
        self.tab, self.store, self.settings, self.manager = tab, store, settings, manager
        self.defaults = TrainConfig().to_dict()

    def start(self, caller, picked, version_name, objective_value, method_value, *values):
        tab = self.tab
        try:
            if picked is None:
                raise StoreError("Pick a project on the Data tab first.")
            config = widget_config(objective_value, method_value, values)
            run_id = self.manager.create_run(picked, version_name or "", config, user_name=caller.name)
        except (StoreError, RunError, ModelError, ValueError) as error:
            return {tab.start_notice: message(str(error), "error"), tab.run_pick: gr.update()}
        # The settings a run started with come back next time this project is opened.
        self.store.update_project(picked.id, settings={"train": config.to_dict()})
        run = self.store.get_run(run_id)
        note = "started" if run.status == "running" else "queued behind the running one"
        return {tab.start_notice: message(f"Run {run_id} {note}.", "ok"), tab.run_pick: gr.update(value=str(run_id))}

    def _runs(self, picked):
        runs = self.store.list_runs(picked.id) if picked else []
        return runs, [str(r.id) for r in runs]

    def refresh(self, picked, run_value):
        tab = self.tab
        runs, choices = self._runs(picked)
        current = run_value if run_value in choices else (choices[0] if choices else None)
        run = self.store.get_run(int(current)) if current else None
        updates = {tab.runs_table: _runs_frame(runs), tab.run_pick: gr.update(choices=choices, value=current)}
        if run is None:
            return {**updates, tab.progress: "No runs yet.", tab.curve: None, tab.rewards_plot: gr.update(visible=False)}
        curve_data = results.curves(Path(run.run_dir))
        line = results.progress_text(run, curve_data)
        if run.method.startswith("dpo") and run.status == "finished":
            line += (f"\n\nDid preference tuning help? On the **Review** tab pick run {run.id} and generate: it "
                     "answers the test prompts it did not train on beside the model it started from, blind.")
        rewards = curve_data.get("rewards")
        return {**updates, tab.progress: line, tab.curve: curve_figure([(f"run {run.id}", curve_data)]),
                tab.rewards_plot: gr.update(value=rewards_figure(curve_data), visible=True) if rewards
                else gr.update(visible=False)}

    def tick(self, picked, run_value, ticked):
        """The timer's refresh, sent only when something it shows has changed: the project's runs, the run picked,
        or that run's metrics. Re-sending an unchanged curve every 2 s made every open page redraw its plot."""
        runs, choices = self._runs(picked)
        current = run_value if run_value in choices else (choices[0] if choices else None)
        metrics = RunFolder(Path(self.store.get_run(int(current)).run_dir)).metrics_path if current else None
        stat = metrics.stat() if metrics and metrics.exists() else None
        seen = repr((picked.name if picked else None, current, runs, stat and (stat.st_size, stat.st_mtime_ns)))
        if seen == ticked:
            return gr.skip()
        return {**self.refresh(picked, run_value), self.tab.ticked: seen}

    def cancel(self, run_value):
        try:
            self.manager.cancel(int(run_value))
        except (RunError, ValueError, TypeError) as error:
            return {self.tab.start_notice: message(f"Nothing cancelled: {error}", "error")}
        return {self.tab.start_notice: message(f"Cancelling run {run_value}: it stops after its current step, "
                                               "keeping a checkpoint.", "ok")}

    def resume(self, run_value):
        try:
            self.manager.resume(int(run_value))
        except (RunError, ValueError, TypeError) as error:
            return {self.tab.start_notice: message(f"Nothing resumed: {error}", "error")}
        return {self.tab.start_notice: message(f"Run {run_value} resumes from its last checkpoint.", "ok")}

    def _run(self, run_value):
        run = self.store.get_run(int(run_value)) if run_value else None
        if run is None:
            raise ValueError("Pick a run first.")
        return run

    def _export(self, archive, note: str):
        return {self.tab.adapter_file: archive, self.tab.export_notice: note}

    def download(self, run_value):
        try:
            archive = results.zip_adapter(self._run(run_value), self.settings.home / "exports")
        except ValueError as error:
            return self._export(None, message(str(error), "error"))
        return self._export(str(archive), message("The adapter in PEFT's format: load it with "
                                                  "PeftModel.from_pretrained(base, folder) after unzipping.", "ok"))

    def merge(self, run_value):
        try:
            run = self._run(run_value)
            folder = results.merge_adapter(run, materialize(run.base_model, self.settings.model_cache))
            archive = results.zip_folder(folder, self.settings.home / "exports", f"{run.name}-merged")
        except (ValueError, ModelError) as error:
            return self._export(None, message(str(error), "error"))
        return self._export(str(archive), message("A standalone model with the adapter folded in: load it with "
                                                  "AutoModelForCausalLM.from_pretrained after unzipping, or push it "
                                                  "below.", "ok"))

    def push(self, run_value, repo):
        try:
            url = results.push_adapter(self._run(run_value), (repo or "").strip(), os.environ.get("HF_TOKEN"))
        except Exception as error:  # network and Hub errors come in many types; show them, lose nothing
            return {self.tab.export_notice: message(f"Push failed: {error}", "error")}
        return {self.tab.export_notice: message(f"Pushed to {url}", "ok")}

    def compare(self, a, b):
        tab = self.tab
        try:
            first, second = self._run(a), self._run(b)
        except ValueError:
            return {tab.difference: pd.DataFrame(columns=["setting", "A", "B", "differs"]), tab.compare_curve: None}
        rows = [[name, str(x), str(y), "●" if differs else ""] for name, x, y, differs
                in results.settings_difference(first, second)]
        figure = curve_figure([(f"A (run {first.id})", results.curves(Path(first.run_dir))),
                                (f"B (run {second.id})", results.curves(Path(second.run_dir)))])
        return {tab.difference: pd.DataFrame(rows, columns=["setting", "A", "B", "differs"]),
                tab.compare_curve: figure}

    def version_chosen(self, picked, version_name, objective_value, learning_rate):
        """Preference pairs train with DPO, input/output pairs with SFT: the objective follows the version."""
        tab = self.tab
        found = self.store.find_version(picked.id, version_name) if picked and version_name else None
        if found is None:
            return {tab.objective: gr.update(), tab.objective_note: "", tab.settings["learning_rate"]: gr.update()}
        wanted, note = KINDS.get(found.kind, ("sft", ""))
        note = message(f"{found.name} {note}", "info") if note else ""
        rate = gr.update()
        if wanted != objective_value:  # the other objective's usual learning rate, unless one was typed
            sft_rate = self.defaults["learning_rate"]
            if wanted == "dpo" and learning_rate == sft_rate:
                rate = DPO_LEARNING_RATE
            elif wanted != "dpo" and learning_rate == DPO_LEARNING_RATE:
                rate = sft_rate
        return {tab.objective: wanted, tab.objective_note: note, tab.settings["learning_rate"]: rate}

    def objective_chosen(self, objective_value):
        # The run to start from applies to every causal objective; the rest of the panel to DPO.
        return {self.tab.dpo_settings: gr.update(open=objective_value == "dpo")}

    def _lists(self, picked, version_value):
        """The project's versions and runs, for the pickers."""
        tab = self.tab
        found = self.store.list_versions(picked.id) if picked else []
        names = [v.name for v in found]
        runs, choices = self._runs(picked)
        value = version_value if version_value in names else (names[0] if names else None)
        return runs, {tab.version: gr.update(choices=_version_choices(found), value=value),
                      tab.compare_a: gr.update(choices=choices), tab.compare_b: gr.update(choices=choices)}

    def shown(self, picked, version_value, already_restored):
        """The project's saved settings if not shown yet; else only new versions and runs since the page loaded.

        A project's last used settings come back once when it is chosen or the tab first shows it; later visits
        and repeated change events keep what was typed."""
        tab = self.tab
        name = picked.name if picked else None
        runs, updates = self._lists(picked, None if already_restored != name else version_value)
        updates[tab.restored_for] = name
        if already_restored != name:
            saved = TrainConfig.from_dict({**self.defaults, **((picked.settings.get("train") or {}) if picked else {})})
            updates.update({tab.method: saved.method, tab.objective: saved.objective})
            for setting, widget in tab.settings.items():
                updates[widget] = getattr(saved, setting)
            start = tab.settings["from_run"]
            options = _start_choices(runs)
            updates[start] = gr.update(choices=options, value=saved.from_run if saved.from_run in
                                       [v for _, v in options] else 0)
            return updates
        # New finished runs become startable; every typed setting stays as it is.
        return {**updates, tab.settings["from_run"]: gr.update(choices=_start_choices(runs))}


def create_train_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings, manager: RunManager,
                     project: gr.Dropdown) -> None:
    """The Train tab: its layout, and each event wired to a guarded handler."""
    ui = layout_train_tab()
    wire_export_panel(layout_export_panel(), guard, ui.run_pick, store, settings)
    handle = TrainHandlers(ui, store, settings, manager)
    hidden = {"api_visibility": "undocumented"}
    refresh_outputs = [ui.runs_table, ui.run_pick, ui.progress, ui.curve, ui.rewards_plot]
    ui.version.change(guard("train", handle.version_chosen, quiet=True),
                      [project, ui.version, ui.objective, ui.settings["learning_rate"]],
                      [ui.objective, ui.objective_note, ui.settings["learning_rate"]], **hidden)
    ui.objective.change(guard("train", handle.objective_chosen, project=False, quiet=True), ui.objective,
                        [ui.dpo_settings], **hidden)
    ui.start.click(guard("train", handle.start), [project, ui.version, ui.objective, ui.method, *ui.setting_widgets],
                   [ui.start_notice, ui.run_pick],
                   api_name="train", concurrency_limit=1, concurrency_id="store-writes").then(
        guard("train", handle.refresh, quiet=True), [project, ui.run_pick], refresh_outputs, **hidden)
    wire_cloud_panel(ui.cloud, guard, CloudHandlers(ui.cloud, manager, SETTING_FIELDS, ui.start_notice, ui.run_pick,
                                                    ui.start), project, [ui.version, ui.objective, ui.method,
                                                                         *ui.setting_widgets],
                     guard("train", handle.refresh, quiet=True), [project, ui.run_pick], refresh_outputs)
    ui.timer.tick(guard("train", handle.tick, quiet=True), [project, ui.run_pick, ui.ticked],
                  [*refresh_outputs, ui.ticked], show_progress="hidden", **hidden)
    ui.run_pick.change(guard("train", handle.refresh, quiet=True), [project, ui.run_pick], refresh_outputs,
                       show_progress="hidden", **hidden)
    create_sweep_panel(store, guard, manager, project, [ui.version, ui.objective, ui.method, *ui.setting_widgets], widget_config)
    ui.cancel_button.click(guard("train", handle.cancel, project=False), ui.run_pick, [ui.start_notice],
                           api_name="cancel_run")
    ui.resume_button.click(guard("train", handle.resume, project=False), ui.run_pick, [ui.start_notice],
                           api_name="resume_run")
    exported = [ui.adapter_file, ui.export_notice]
    ui.zip_button.click(guard("train", handle.download, project=False), ui.run_pick, exported,
                        api_name="download_adapter")
    ui.merge_button.click(guard("train", handle.merge, project=False), ui.run_pick, exported,
                          api_name="merge_adapter")
    ui.push_button.click(guard("train", handle.push, project=False), [ui.run_pick, ui.hub_repo], [ui.export_notice],
                         **hidden)
    ui.compare_button.click(guard("train", handle.compare, project=False), [ui.compare_a, ui.compare_b],
                            [ui.difference, ui.compare_curve], api_name="compare_runs")
    shown_outputs = [ui.version, ui.compare_a, ui.compare_b, ui.method, *ui.setting_widgets, ui.objective,
                     ui.restored_for]
    # Both events go through one queue slot, so each sees the other's State, and only one of them restores.
    serial = {"concurrency_limit": 1, "concurrency_id": "train-settings"}
    for event in (project.change, tab.select):
        event(guard("train", handle.shown, quiet=True), [project, ui.version, ui.restored_for], shown_outputs,
              **serial, **hidden)
