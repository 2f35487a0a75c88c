"""The Results tab: is the tuned model better? People's and the judge's win rates with 95% intervals, how far
the judge agrees with people, automatic metrics, and runs side by side, in charts, tables and words."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.evaluation import report, review as reviewing
from ftstudio.evaluation.generations import EvaluationError
from ftstudio.evaluation.jobs import GenerationError
from ftstudio.evaluation.metrics import compute_model_metrics
from ftstudio.store import Store
from ftstudio.ui.handlers import Guard
from ftstudio.ui.format import message
from ftstudio.ui.results_view import (BREAKDOWN_COLUMNS, BT_COLUMNS, CONFUSION_COLUMNS, DISAGREE_COLUMNS,
                                      GRADE_COLUMNS, JUDGE_COLUMNS, LENGTH_COLUMNS, WIN_COLUMNS, breakdown_chart,
                                      breakdown_frame,
                                      compare_frame, guarded_panel, metrics_frame, panels)
from ftstudio.ui.review_tab import project_runs, run_choices


def create_results_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings, project: gr.Dropdown) -> None:
    with gr.Row():
        run_pick = gr.Dropdown([], label="Run", elem_id="results-run", scale=3, allow_custom_value=True)
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=120, elem_id="results-refresh")
    verdict = gr.Markdown(elem_id="results-verdict")
    chart = gr.Plot(elem_id="win-chart", label="Win rates")

    gr.Markdown("### People")
    win_table = gr.Dataframe(pd.DataFrame(columns=WIN_COLUMNS), interactive=False, elem_id="win-table",
                             label="Human votes, per pair of systems")
    with gr.Group(visible=False) as bradley_terry_group:
        bt_table = gr.Dataframe(pd.DataFrame(columns=BT_COLUMNS), interactive=False, elem_id="bt-table",
                                label="Bradley-Terry ratings (base model = 1000; +191 means 3:1 odds of winning)")

    gr.Markdown("### The judge")
    judge_summary = gr.Markdown(elem_id="judge-summary")
    judge_table = gr.Dataframe(pd.DataFrame(columns=JUDGE_COLUMNS), interactive=False, elem_id="judge-table",
                               label="Judge verdicts per pair of systems (a side wins only when both orders agree); "
                                     "'at equal length' is the length-controlled win rate")
    grades_table = gr.Dataframe(pd.DataFrame(columns=GRADE_COLUMNS), interactive=False, elem_id="grades-table",
                                label="Single-answer grades", visible=False)

    gr.Markdown("### Judge and people")
    agreement_text = gr.Markdown(elem_id="judge-agreement")
    with gr.Row():
        confusion_table = gr.Dataframe(pd.DataFrame(columns=CONFUSION_COLUMNS), interactive=False, scale=3,
                                       elem_id="confusion-table", label="Votes: what people said against the judge")
        length_table = gr.Dataframe(pd.DataFrame(columns=LENGTH_COLUMNS), interactive=False, scale=2,
                                    elem_id="length-table", label="Does the longer answer win?")
    with gr.Accordion("Where the judge and people disagree most", open=False):
        disagreement_table = gr.Dataframe(pd.DataFrame(columns=DISAGREE_COLUMNS), interactive=False, wrap=True,
                                          elem_id="disagreements", max_height=600)

    gr.Markdown("### Automatic metrics")
    metrics_table = gr.Dataframe(interactive=False, elem_id="metrics-table",
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
        breakdown_table = gr.Dataframe(pd.DataFrame(columns=BREAKDOWN_COLUMNS), interactive=False)
        breakdown_plot = gr.Plot()
    with gr.Accordion("Export", open=False):
        with gr.Row():
            csv_button = gr.Button("Ratings (.csv)", size="sm")
            parquet_button = gr.Button("Ratings (.parquet)", size="sm")
            preference_button = gr.Button("Preference pairs for DPO (.jsonl)", size="sm")
        export_file = gr.File(label="Download", interactive=False, elem_id="results-file")
        export_notice = gr.Markdown()

    def current_review(picked, run_value):
        chosen, runs = project_runs(store, picked)
        if chosen is None:
            raise EvaluationError("Pick a project first.")
        if not any(r.status == "finished" for r in runs):
            raise EvaluationError("This project has no finished run yet: train one on the Train tab, then generate "
                                  "answers on the Review tab and vote.")
        run = store.find_run(run_value, chosen.id) if run_value else None
        if run is None:
            raise EvaluationError("Pick a run above.")
        found = reviewing.latest_review(store, run)
        if found is None:
            raise EvaluationError(f"Run {run.id} has no review yet: generate answers on the Review tab, then vote.")
        return found

    def empty(note: str):
        return (message(note, "info"), None, pd.DataFrame(columns=WIN_COLUMNS), gr.update(visible=False),
                pd.DataFrame(columns=BT_COLUMNS), "", pd.DataFrame(columns=JUDGE_COLUMNS), gr.update(visible=False),
                "", pd.DataFrame(columns=CONFUSION_COLUMNS), pd.DataFrame(columns=LENGTH_COLUMNS),
                pd.DataFrame(columns=DISAGREE_COLUMNS), pd.DataFrame(), gr.update(choices=[]))

    def on_refresh(picked, run_value):
        try:
            found = current_review(picked, run_value)
        except EvaluationError as error:
            return empty(str(error))
        results = report.full_results(store, found)  # once per refresh: every panel reads the same figures
        return panels(results, report_fields=lambda: report.breakdown_fields(store, found))
    def on_metrics(picked, run_value, progress=gr.Progress()):
        try:
            found = current_review(picked, run_value)
            counts = compute_model_metrics(store, settings, found,
                                           on_progress=lambda line: progress(None, desc=line))
        except (EvaluationError, GenerationError, ValueError, OSError) as error:
            return message(str(error), "error"), gr.update()
        results = report.full_results(store, found, with_bradley_terry=False, disagreement_rows=0)
        done = counts["perplexity"] + counts["similarity"]
        note = (f"Scored {counts['perplexity']} references and {counts['similarity']} answers."
                if done else "Every answer was scored already.")
        return message(note, "ok"), guarded_panel(lambda: metrics_frame(results), lambda error: pd.DataFrame())

    def on_compare(picked, chosen_runs):
        chosen, _ = project_runs(store, picked)
        runs = [store.find_run(value, chosen.id) for value in (chosen_runs or [])] if chosen else []
        runs = [run for run in runs if run is not None]
        if not runs:
            return pd.DataFrame()
        return compare_frame(report.compare_runs(store, runs))

    def on_project(picked, run_value):
        _, runs = project_runs(store, picked)
        choices = run_choices(runs)
        values = [value for _, value in choices]
        chosen = run_value if run_value in values else (values[0] if values else None)
        return gr.update(choices=choices, value=chosen), gr.update(choices=choices)

    def on_breakdown(picked, run_value, field_name):
        try:
            found = current_review(picked, run_value)
        except EvaluationError:
            return pd.DataFrame(columns=BREAKDOWN_COLUMNS), None
        if not field_name:
            return pd.DataFrame(columns=BREAKDOWN_COLUMNS), None
        rows = report.breakdown(store, found, field_name)
        return breakdown_frame(rows), breakdown_chart(rows, field_name)

    def on_export(kind):
        def handler(picked, run_value):
            try:
                found = current_review(picked, run_value)
            except EvaluationError as error:
                return None, message(str(error), "error")
            out = settings.home / "exports"
            if kind == "preferences":
                path, count = report.export_preferences(store, found, out)
                return str(path), message(f"{count} preference pairs (ties and both-bad left out).", "ok")
            path = report.export_ratings(store, found, out, kind)
            return str(path), message(f"Every rating of review {found.id}, with both answers.", "ok")
        return handler

    hidden = {"api_visibility": "undocumented"}
    outputs = [verdict, chart, win_table, bradley_terry_group, bt_table, judge_summary, judge_table, grades_table,
               agreement_text, confusion_table, length_table, disagreement_table, metrics_table, field]
    refresh.click(guard("results", on_refresh), [project, run_pick], outputs, api_name="results")
    run_pick.change(guard("results", on_refresh, quiet=True), [project, run_pick], outputs, **hidden)
    breakdown_button.click(guard("results", on_breakdown), [project, run_pick, field], [breakdown_table, breakdown_plot],
                           api_name="breakdown")
    csv_button.click(guard("results", on_export("csv")), [project, run_pick], [export_file, export_notice], api_name="export_ratings_csv")
    parquet_button.click(guard("results", on_export("parquet")), [project, run_pick], [export_file, export_notice],
                         api_name="export_ratings_parquet")
    preference_button.click(guard("results", on_export("preferences")), [project, run_pick], [export_file, export_notice],
                            api_name="export_preferences")
    metrics_button.click(guard("results", on_metrics), [project, run_pick], [metrics_notice, metrics_table], api_name="compute_metrics",
                         concurrency_limit=1, concurrency_id="generation")
    compare_button.click(guard("results", on_compare), [project, compare_pick], compare_table, api_name="compare_runs")
    project.change(guard("results", on_project, quiet=True), [project, run_pick], [run_pick, compare_pick], **hidden)
    tab.select(guard("results", on_project, quiet=True), [project, run_pick], [run_pick, compare_pick], **hidden).then(
        guard("results", on_refresh, quiet=True), [project, run_pick], outputs, **hidden)
