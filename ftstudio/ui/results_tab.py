"""The Results tab: is the tuned model better? Win rates with 95% intervals, in charts and in words."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.evaluation import report, review as reviewing
from ftstudio.evaluation.generations import EvaluationError
from ftstudio.store import Store
from ftstudio.ui.format import escape, message
from ftstudio.wording import plural
from ftstudio.ui.review_tab import project_runs, run_choices

WIN_COLUMNS = ["system", "against", "wins", "losses", "ties", "both bad", "win rate", "95% interval"]
BT_COLUMNS = ["system", "rating", "95% interval", "matches"]
BREAKDOWN_COLUMNS = ["value", "votes", "wins", "losses", "ties", "win rate", "95% interval"]


def _percent(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def _interval(low, high, percent=True) -> str:
    if low is None:
        return "–"
    return f"{low:.0%} – {high:.0%}" if percent else f"{low:.0f} – {high:.0f}"


def win_frame(results: dict) -> pd.DataFrame:
    labels = results["labels"]
    return pd.DataFrame([[labels[e["system"]], labels[e["against"]], e["wins"], e["losses"], e["ties"], e["both_bad"],
                          _percent(e["win_rate"]), _interval(e["ci_low"], e["ci_high"])]
                         for e in results["human"].values()], columns=WIN_COLUMNS)


def win_chart(results: dict):
    """Each pair's win rate as a bar with its 95% interval, against the 50% line where nobody is better."""
    import plotly.graph_objects as go

    entries = [e for e in results["human"].values() if e["win_rate"] is not None]
    labels = results["labels"]
    names = [f"{labels[e['system']]}<br>vs {labels[e['against']]}" for e in entries]
    figure = go.Figure(go.Bar(
        x=[e["win_rate"] for e in entries], y=names, orientation="h", marker_color="#6366f1",
        error_x={"type": "data", "symmetric": False, "array": [e["ci_high"] - e["win_rate"] for e in entries],
                 "arrayminus": [e["win_rate"] - e["ci_low"] for e in entries], "color": "#1e1b4b"},
        hovertemplate="%{x:.0%}<extra></extra>"))
    figure.add_vline(x=0.5, line_dash="dash", line_color="#dc2626", annotation_text="50%: no difference",
                     annotation_position="top")
    figure.update_layout(title="Win rate over decisive votes, with 95% intervals", height=120 + 70 * max(1, len(entries)),
                         margin={"l": 20, "r": 20, "t": 70, "b": 40}, template="plotly_white",
                         xaxis={"range": [0, 1], "tickformat": ".0%"}, yaxis={"automargin": True})
    return figure


def bradley_terry_frame(results: dict) -> pd.DataFrame:
    labels = results["labels"]
    return pd.DataFrame([[labels[row["system"]], "–" if row["rating"] is None else f"{row['rating']:.0f}",
                          _interval(row["ci_low"], row["ci_high"], percent=False), row["matches"]]
                         for row in results["bradley_terry"] or []], columns=BT_COLUMNS)


def breakdown_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([[r["value"], r["votes"], r["wins"], r["losses"], r["ties"] + r["both_bad"],
                          _percent(r["win_rate"]), _interval(r["ci_low"], r["ci_high"])] for r in rows],
                        columns=BREAKDOWN_COLUMNS)


def breakdown_chart(rows: list[dict], field: str):
    import plotly.graph_objects as go

    rows = [r for r in rows if r["win_rate"] is not None]
    figure = go.Figure(go.Bar(
        x=[r["value"] for r in rows], y=[r["win_rate"] for r in rows], marker_color="#22c55e",
        error_y={"type": "data", "symmetric": False, "array": [r["ci_high"] - r["win_rate"] for r in rows],
                 "arrayminus": [r["win_rate"] - r["ci_low"] for r in rows]}))
    figure.add_hline(y=0.5, line_dash="dash", line_color="#dc2626")
    figure.update_layout(title=f"Win rate by {field}", height=320, template="plotly_white",
                         margin={"l": 40, "r": 20, "t": 60, "b": 40}, yaxis={"range": [0, 1], "tickformat": ".0%"})
    return figure


def verdict_markdown(results: dict) -> str:
    if not results["votes"]:
        return message("No votes yet: vote on blind pairs on the Review tab.", "info")
    lines = [f"**{plural(results['votes'], 'vote')}** by {plural(len(results['reviewers']), 'reviewer')}."]
    lines += [f"- {escape(entry['verdict'])}" for entry in results["human"].values()]
    agreement = results["reviewer_agreement"]
    if agreement["pairs"]:
        kappa = "–" if agreement["kappa"] is None else f"{agreement['kappa']:.2f}"
        lines.append(f"- Reviewers agree on {agreement['agreement']:.0%} of the {plural(agreement['pairs'], 'pair')} rated by "
                     f"more than one of them ({'Cohen' if agreement['method'] == 'cohen' else 'Fleiss'}' kappa {kappa}).")
    return "\n".join(lines)


def create_results_tab(app: gr.Blocks, tab: gr.Tab, store: Store, settings: Settings, project: gr.Dropdown) -> None:
    with gr.Row():
        run_pick = gr.Dropdown([], label="Run", elem_id="results-run", scale=3, allow_custom_value=True)
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=120, elem_id="results-refresh")
    verdict = gr.Markdown(elem_id="results-verdict")
    win_table = gr.Dataframe(pd.DataFrame(columns=WIN_COLUMNS), interactive=False, elem_id="win-table",
                             label="Human votes, per pair of systems")
    chart = gr.Plot(elem_id="win-chart", label="Win rates")
    with gr.Group(visible=False) as bradley_terry_group:
        bt_table = gr.Dataframe(pd.DataFrame(columns=BT_COLUMNS), interactive=False, elem_id="bt-table",
                                label="Bradley-Terry ratings (base model = 1000; +191 means 3:1 odds of winning)")
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

    def current_review(project_name, run_value):
        chosen, _ = project_runs(store, project_name)
        run = store.find_run(run_value, chosen.id) if (chosen and run_value) else None
        found = reviewing.latest_review(store, run) if run else None
        if found is None:
            raise EvaluationError("This run has no review yet: generate answers on the Review tab, then vote.")
        return found

    def on_refresh(project_name, run_value):
        try:
            found = current_review(project_name, run_value)
        except EvaluationError as error:
            return (message(str(error), "info"), pd.DataFrame(columns=WIN_COLUMNS), None, gr.update(visible=False),
                    pd.DataFrame(columns=BT_COLUMNS), gr.update(choices=[]))
        results = report.human_results(store, found)
        many = results["bradley_terry"] is not None
        return (verdict_markdown(results), win_frame(results), win_chart(results) if results["votes"] else None,
                gr.update(visible=many), bradley_terry_frame(results) if many else pd.DataFrame(columns=BT_COLUMNS),
                gr.update(choices=report.breakdown_fields(store, found)))

    def on_project(project_name, run_value):
        _, runs = project_runs(store, project_name)
        choices = run_choices(runs)
        values = [value for _, value in choices]
        chosen = run_value if run_value in values else (values[0] if values else None)
        return gr.update(choices=choices, value=chosen)

    def on_breakdown(project_name, run_value, field_name):
        try:
            found = current_review(project_name, run_value)
        except EvaluationError:
            return pd.DataFrame(columns=BREAKDOWN_COLUMNS), None
        if not field_name:
            return pd.DataFrame(columns=BREAKDOWN_COLUMNS), None
        rows = report.breakdown(store, found, field_name)
        return breakdown_frame(rows), breakdown_chart(rows, field_name)

    def on_export(kind):
        def handler(project_name, run_value):
            try:
                found = current_review(project_name, run_value)
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
    outputs = [verdict, win_table, chart, bradley_terry_group, bt_table, field]
    refresh.click(on_refresh, [project, run_pick], outputs, api_name="results")
    run_pick.change(on_refresh, [project, run_pick], outputs, **hidden)
    breakdown_button.click(on_breakdown, [project, run_pick, field], [breakdown_table, breakdown_plot],
                           api_name="breakdown")
    csv_button.click(on_export("csv"), [project, run_pick], [export_file, export_notice], api_name="export_ratings_csv")
    parquet_button.click(on_export("parquet"), [project, run_pick], [export_file, export_notice],
                         api_name="export_ratings_parquet")
    preference_button.click(on_export("preferences"), [project, run_pick], [export_file, export_notice],
                            api_name="export_preferences")
    project.change(on_project, [project, run_pick], run_pick, **hidden)
    tab.select(on_project, [project, run_pick], run_pick, **hidden).then(on_refresh, [project, run_pick], outputs,
                                                                          **hidden)
