"""The Results tab: is the tuned model better? People's and the judge's win rates with 95% intervals, how far
the judge agrees with people, automatic metrics, and runs side by side, in charts, tables and words."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.evaluation import report, review as reviewing
from ftstudio.evaluation.jobs import GenerationError
from ftstudio.evaluation.corrections import corrections_by_system
from ftstudio.evaluation.metrics import compute_model_metrics
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.store import Store
from ftstudio.ui.format import escape, message
from ftstudio.ui.handlers import Guard
from ftstudio.ui.metric_modules_panel import create_metric_modules_panel
from ftstudio.ui.quality_cost import attach_quality_cost, quality_cost_layout
from ftstudio.ui.results_view import (BREAKDOWN_COLUMNS, BT_COLUMNS, CONFUSION_COLUMNS, DISAGREE_COLUMNS,
                                      EMPTY_METRIC_COLUMNS, GRADE_COLUMNS, JUDGE_COLUMNS, LENGTH_COLUMNS, WIN_COLUMNS, breakdown_chart,
                                      breakdown_frame, compare_frame, empty_panels, guarded_panel, metrics_frame,
                                      panels)
from ftstudio.ui.review_tab import project_runs, run_choices
from ftstudio.ui.weights_panel import create_weights_panel

# The panels one refresh fills, in the order of the outputs (and of the `results` API's answer).
PANELS = ("verdict", "chart", "win_table", "bradley_terry_group", "bt_table", "judge_summary", "judge_table",
          "grades_table", "agreement_text", "confusion_table", "length_table", "disagreement_table", "metrics_table",
          "field")
EXPORTS = {"csv": "Ratings (.csv)", "parquet": "Ratings (.parquet)",
           "preferences": "Preference pairs for DPO (.jsonl)"}


@dataclass
class ResultsWidgets:
    """The Results tab's widgets, as the layout made them."""

    run_pick: gr.Dropdown
    refresh: gr.Button
    verdict: gr.Markdown
    chart: gr.Plot
    win_table: gr.Dataframe
    bradley_terry_group: gr.Group
    bt_table: gr.Dataframe
    judge_summary: gr.Markdown
    judge_table: gr.Dataframe
    grades_table: gr.Dataframe
    agreement_text: gr.Markdown
    confusion_table: gr.Dataframe
    length_table: gr.Dataframe
    disagreement_table: gr.Dataframe
    metrics_table: gr.Dataframe
    metrics_button: gr.Button
    metrics_notice: gr.Markdown
    compare_pick: gr.Dropdown
    compare_button: gr.Button
    compare_table: gr.Dataframe
    field: gr.Dropdown
    breakdown_button: gr.Button
    breakdown_table: gr.Dataframe
    breakdown_plot: gr.Plot
    exports: dict  # kind -> its button
    export_file: gr.File
    export_notice: gr.Markdown
    corrections: gr.Markdown
    quality_cost: object = None  # ui.quality_cost's section

    @property
    def panels(self) -> list:
        return [getattr(self, name) for name in PANELS]

    def named(self, updates: dict) -> dict:
        """{panel name: update} as {widget: update}."""
        return {getattr(self, name): value for name, value in updates.items()}


def _frame(columns, **options) -> gr.Dataframe:
    return gr.Dataframe(pd.DataFrame(columns=columns), interactive=False, **options)


def results_layout(price_per_hour: float = 0.0) -> ResultsWidgets:
    """Lay out the tab: the headline, people, the judge, judge and people, metrics, runs side by side, exports."""
    with gr.Row():
        run_pick = gr.Dropdown([], label="Run", elem_id="results-run", scale=3, allow_custom_value=True)
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=120, elem_id="results-refresh")
    verdict = gr.Markdown(elem_id="results-verdict")
    chart = gr.Plot(elem_id="win-chart", label="Win rates")
    quality_cost = quality_cost_layout(price_per_hour)
    gr.Markdown("### People")
    win_table = _frame(WIN_COLUMNS, elem_id="win-table", label="Human votes, per pair of systems")
    with gr.Group(visible=False) as bradley_terry_group:
        bt_table = _frame(BT_COLUMNS, elem_id="bt-table",
                          label="Bradley-Terry ratings (base model = 1000; +191 means 3:1 odds of winning)")
    corrections = gr.Markdown(elem_id="results-corrections")
    gr.Markdown("### The judge")
    judge_summary = gr.Markdown(elem_id="judge-summary")
    judge_table = _frame(JUDGE_COLUMNS, elem_id="judge-table",
                         label="Judge verdicts per pair of systems (a side wins only when both orders agree); "
                               "'at equal length' is the length-controlled win rate")
    grades_table = _frame(GRADE_COLUMNS, elem_id="grades-table", label="Single-answer grades", visible=False)
    gr.Markdown("### Judge and people")
    agreement_text = gr.Markdown(elem_id="judge-agreement")
    with gr.Row():
        confusion_table = _frame(CONFUSION_COLUMNS, scale=3, elem_id="confusion-table",
                                 label="Votes: what people said against the judge")
        length_table = _frame(LENGTH_COLUMNS, scale=2, elem_id="length-table", label="Does the longer answer win?")
    with gr.Accordion("Where the judge and people disagree most", open=False):
        disagreement_table = _frame(DISAGREE_COLUMNS, wrap=True, elem_id="disagreements", max_height=600)
    gr.Markdown("### Automatic metrics")
    metrics_table = gr.Dataframe(pd.DataFrame(columns=EMPTY_METRIC_COLUMNS), interactive=False,
                                 elem_id="metrics-table",
                                 label="Against the reference, per system and split (ROUGE and similarity 0-1, BLEU "
                                       "0-100, perplexity: lower is better)")
    with gr.Row():
        metrics_button = gr.Button("Compute perplexity and similarity", size="sm", scale=0, min_width=280,
                                   elem_id="metrics-compute")
        metrics_notice = gr.Markdown(elem_id="metrics-notice")
    with gr.Accordion("Runs side by side", open=False):
        with gr.Row():
            compare_pick = gr.Dropdown([], multiselect=True, label="Runs", elem_id="compare-runs", scale=4)
            compare_button = gr.Button("Compare", size="sm", scale=0, min_width=120, elem_id="compare-button")
        compare_table = gr.Dataframe(interactive=False, elem_id="compare-table")
    with gr.Accordion("Breakdown by label or item field", open=False):
        with gr.Row():
            field = gr.Dropdown([], label="Field", elem_id="breakdown-field")
            breakdown_button = gr.Button("Break down", size="sm")
        breakdown_table = _frame(BREAKDOWN_COLUMNS)
        breakdown_plot = gr.Plot()
    with gr.Accordion("Export", open=False):
        with gr.Row():
            exports = {kind: gr.Button(label, size="sm") for kind, label in EXPORTS.items()}
        export_file = gr.File(label="Download", interactive=False, elem_id="results-file")
        export_notice = gr.Markdown()
    return ResultsWidgets(run_pick, refresh, verdict, chart, win_table, bradley_terry_group, bt_table, judge_summary,
                          judge_table, grades_table, agreement_text, confusion_table, length_table,
                          disagreement_table, metrics_table, metrics_button, metrics_notice, compare_pick,
                          compare_button, compare_table, field, breakdown_button, breakdown_table, breakdown_plot,
                          exports, export_file, export_notice, corrections, quality_cost)


class ResultsHandlers:
    """Handlers over one store and the tab's widgets: each returns named updates."""

    def __init__(self, store: Store, settings: Settings, widgets: ResultsWidgets):
        self.store, self.settings, self.w = store, settings, widgets

    def current_review(self, picked, run_value):
        chosen, runs = project_runs(self.store, picked)
        if chosen is None:
            raise EvaluationError("Pick a project first.")
        if not any(r.status == "finished" for r in runs):
            raise EvaluationError("This project has no finished run yet: train one on the Train tab, then generate "
                                  "answers on the Review tab and vote.")
        run = self.store.find_run(run_value, chosen.id) if run_value else None
        if run is None:
            raise EvaluationError("Pick a run above.")
        found = reviewing.latest_review(self.store, run)
        if found is None:
            raise EvaluationError(f"Run {run.id} has no review yet: generate answers on the Review tab, then vote.")
        return found

    def on_refresh(self, picked, run_value):
        try:
            found = self.current_review(picked, run_value)
        except EvaluationError as error:
            return self.w.named(empty_panels(str(error)))
        results = report.full_results(self.store, found)  # once per refresh: every panel reads the same figures
        shown = panels(results, lambda: report.breakdown_fields(self.store, found))
        purpose = reviewing.preference_data_note(found)  # only when the run has no review that grades it
        if purpose and isinstance(shown.get("verdict"), str):
            shown["verdict"] = message(purpose, "info") + "\n\n" + shown["verdict"]
        return self.w.named(shown)

    def on_corrections(self, picked, run_value):
        """How many corrections reviewers made to each system's answers (after their votes)."""
        try:
            found = self.current_review(picked, run_value)
        except EvaluationError:
            return {self.w.corrections: ""}
        return {self.w.corrections: corrections_markdown(corrections_by_system(self.store, found),
                                                         reviewing.system_labels(self.store, found))}

    def on_metrics(self, picked, run_value, progress=gr.Progress()):
        w = self.w
        try:
            found = self.current_review(picked, run_value)
            counts = compute_model_metrics(self.store, self.settings, found,
                                           on_progress=lambda line: progress(None, desc=line))
        except (EvaluationError, GenerationError, ValueError, OSError) as error:
            return {w.metrics_notice: message(str(error), "error"), w.metrics_table: gr.update()}
        results = report.full_results(self.store, found, with_bradley_terry=False, disagreement_rows=0)
        done = counts["perplexity"] + counts["similarity"]
        note = (f"Scored {counts['perplexity']} references and {counts['similarity']} answers."
                if done else "Every answer was scored already.")
        return {w.metrics_notice: message(note, "ok"),
                w.metrics_table: guarded_panel(lambda: metrics_frame(results), lambda error: pd.DataFrame())}

    def on_compare(self, picked, chosen_runs):
        chosen, _ = project_runs(self.store, picked)
        runs = [self.store.find_run(value, chosen.id) for value in (chosen_runs or [])] if chosen else []
        runs = [run for run in runs if run is not None]
        return {self.w.compare_table: compare_frame(report.compare_runs(self.store, runs)) if runs else pd.DataFrame()}

    def on_project(self, picked, run_value):
        _, runs = project_runs(self.store, picked)
        choices = run_choices(runs)
        values = [value for _, value in choices]
        chosen = run_value if run_value in values else (values[0] if values else None)
        return {self.w.run_pick: gr.update(choices=choices, value=chosen), self.w.compare_pick: gr.update(choices=choices)}

    def on_breakdown(self, picked, run_value, field_name):
        w, empty = self.w, {self.w.breakdown_table: pd.DataFrame(columns=BREAKDOWN_COLUMNS), self.w.breakdown_plot: None}
        try:
            found = self.current_review(picked, run_value)
        except EvaluationError:
            return empty
        if not field_name:
            return empty
        rows = report.breakdown(self.store, found, field_name)
        return {w.breakdown_table: breakdown_frame(rows), w.breakdown_plot: breakdown_chart(rows, field_name)}

    def on_export(self, kind: str):
        def handler(picked, run_value):
            w = self.w
            try:
                found = self.current_review(picked, run_value)
            except EvaluationError as error:
                return {w.export_file: None, w.export_notice: message(str(error), "error")}
            out = self.settings.home / "exports"
            if kind == "preferences":
                path, count = report.export_preferences(self.store, found, out)
                return {w.export_file: str(path),
                        w.export_notice: message(f"{count} preference pairs (ties and both-bad left out).", "ok")}
            path = report.export_ratings(self.store, found, out, kind)
            return {w.export_file: str(path),
                    w.export_notice: message(f"Every rating of review {found.id}, with both answers.", "ok")}
        return handler


def create_results_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings,
                       project: gr.Dropdown) -> None:
    w = results_layout(settings.machine_price_per_hour)
    create_metric_modules_panel(store, guard, project)
    h = ResultsHandlers(store, settings, w)
    hidden = {"api_visibility": "undocumented"}
    picked = [project, w.run_pick]
    w.refresh.click(guard("results", h.on_refresh), picked, w.panels, api_name="results").then(
        guard("results", h.on_corrections, quiet=True), picked, w.corrections, **hidden)
    attach_quality_cost(w.quality_cost, store, guard, picked, h.current_review, [w.refresh.click, w.run_pick.change])
    w.run_pick.change(guard("results", h.on_refresh, quiet=True), picked, w.panels, **hidden).then(
        guard("results", h.on_corrections, quiet=True), picked, w.corrections, **hidden)
    create_weights_panel(store, guard, settings, project, w.run_pick)
    w.breakdown_button.click(guard("results", h.on_breakdown), [*picked, w.field], [w.breakdown_table, w.breakdown_plot],
                             api_name="breakdown")
    api_names = {"csv": "export_ratings_csv", "parquet": "export_ratings_parquet", "preferences": "export_preferences"}
    for kind, button in w.exports.items():
        button.click(guard("results", h.on_export(kind)), picked, [w.export_file, w.export_notice],
                     api_name=api_names[kind])
    w.metrics_button.click(guard("results", h.on_metrics), picked, [w.metrics_notice, w.metrics_table],
                           api_name="compute_metrics", concurrency_limit=1, concurrency_id="generation")
    w.compare_button.click(guard("results", h.on_compare), [project, w.compare_pick], w.compare_table,
                           api_name="compare_runs")
    project.change(guard("results", h.on_project, quiet=True), picked, [w.run_pick, w.compare_pick], **hidden)
    tab.select(guard("results", h.on_project, quiet=True), picked, [w.run_pick, w.compare_pick], **hidden).then(
        guard("results", h.on_refresh, quiet=True), picked, w.panels, **hidden).then(
        guard("results", h.on_corrections, quiet=True), picked, w.corrections, **hidden)


def corrections_markdown(counts: dict[str, int], labels: dict[str, str]) -> str:
    """One line: how many corrections each system's answers needed."""
    if not any(counts.values()):
        return "**Corrections:** none yet (after a vote, a reviewer can correct the answer on the Review tab)."
    return "**Corrections reviewers made:** " + " · ".join(
        f"{escape(labels.get(name, name))}: {count}" for name, count in counts.items())
