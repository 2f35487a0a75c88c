"""The Results tab's quality-cost section: one table of quality (people's and the judge's Bradley-Terry ratings with
intervals), latency and cost per system, a chart of quality against cost, and the best buy in one sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr
import pandas as pd

from ftstudio.evaluation.costs import QualityCost, quality_cost
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.store import Store
from ftstudio.ui.format import escape, message

COLUMNS = {"system": "System", "kind": "Kind", "human_bt": "People (Bradley-Terry, 95% interval)",
           "judge_bt": "Judge (Bradley-Terry, 95% interval)", "answers": "Answers",
           "latency_ms_median": "Latency median (ms)", "latency_ms_p95": "Latency p95 (ms)",
           "output_tokens_mean": "Output tokens (mean)", "cost_per_1000": "Cost per 1,000 answers"}


@dataclass
class QualityCostWidgets:
    price: gr.Number
    best_buy: gr.Markdown
    table: gr.Dataframe
    chart: gr.Plot

    @property
    def outputs(self) -> list:
        return [self.best_buy, self.table, self.chart]


def quality_cost_layout(price_per_hour: float = 0.0) -> QualityCostWidgets:
    with gr.Accordion("Quality, latency and cost per system", open=True, elem_id="quality-cost"):
        price = gr.Number(price_per_hour, minimum=0, label="Price per hour of this machine (USD; 0: your hardware)",
                          info="What local systems (base, runs, few-shot) cost: their measured seconds at this "
                               "price, e.g. what the GPU rents for.", elem_id="machine-price")
        best_buy = gr.Markdown(elem_id="best-buy")
        table = gr.Dataframe(pd.DataFrame(columns=list(COLUMNS.values())), interactive=False,
                             elem_id="quality-cost-table", label="Quality, latency and cost")
        chart = gr.Plot(elem_id="quality-cost-chart", label="Quality against cost per 1,000 answers")
    return QualityCostWidgets(price, best_buy, table, chart)


def quality_cost_chart(view: QualityCost):
    """Each system placed by quality (its rating and interval) against its cost per 1,000 answers."""
    import plotly.graph_objects as go

    costs = {row["system"]: row["cost_per_1000_answers_usd"] for row in view.rows}
    placed = [r for r in view.ratings if r.rating is not None]
    figure = go.Figure(go.Scatter(
        x=[costs.get(r.system) or 0.0 for r in placed], y=[r.rating for r in placed], mode="markers+text",
        text=[r.system for r in placed], textposition="top center", marker={"size": 12, "color": "#2563eb"},
        error_y={"type": "data", "symmetric": False, "array": [r.ci_high - r.rating for r in placed],
                 "arrayminus": [r.rating - r.ci_low for r in placed]}))
    figure.update_layout(title=f"Quality ({view.source}, Bradley-Terry) against cost", height=360,
                         template="plotly_white", margin={"l": 50, "r": 20, "t": 60, "b": 50},
                         xaxis_title="USD per 1,000 answers (0: your hardware or unknown)",
                         yaxis_title="Bradley-Terry rating (base = 1000)")
    return figure


class QualityCostHandlers:
    def __init__(self, store: Store, widgets: QualityCostWidgets, current_review: Callable):
        self.store, self.w, self.current_review = store, widgets, current_review

    def on_show(self, picked, run_value, price):
        w = self.w
        try:
            view = quality_cost(self.store, self.current_review(picked, run_value), float(price or 0))
        except EvaluationError as error:
            return {w.best_buy: message(str(error), "info"), w.table: pd.DataFrame(columns=list(COLUMNS.values())),
                    w.chart: None}
        frame = pd.DataFrame([{title: row[key] for key, title in COLUMNS.items()} for row in view.rows])
        return {w.best_buy: escape(view.best_buy), w.table: frame,
                w.chart: quality_cost_chart(view) if view.ratings else None}


def attach_quality_cost(widgets: QualityCostWidgets, store: Store, guard, picked: list, current_review,
                        events: list) -> None:
    """Fill the section on each of `events` (refresh, run change) and when the price changes."""
    handlers = QualityCostHandlers(store, widgets, current_review)
    inputs = [*picked, widgets.price]
    for index, event in enumerate(events):
        event(guard("results", handlers.on_show, quiet=index > 0), inputs, widgets.outputs,
              **({"api_name": "quality_cost"} if index == 0 else {"api_visibility": "undocumented"}))
    widgets.price.submit(guard("results", handlers.on_show), inputs, widgets.outputs,
                         api_visibility="undocumented")
