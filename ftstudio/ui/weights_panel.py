"""The Results tab's data-free check of the weights: WeightWatcher's alpha per layer, the merged run beside its base
model, with what it means and what it does not."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.evaluation.weights import ADAPTER_ONLY, MEANING, WeightsError, cached_weights, check_weights
from ftstudio.models import ModelError, materialize
from ftstudio.store import Store, StoreError
from ftstudio.ui.format import message
from ftstudio.ui.handlers import Guard

COLUMNS = ["layer", "name", "shape", "base alpha", "tuned alpha", "change"]


def _frame(weights: dict | None) -> pd.DataFrame:
    rows = (weights or {}).get("layers") or []
    return pd.DataFrame([[row["layer"], row["name"], "×".join(map(str, row["shape"])), round(row["base_alpha"], 2),
                          None if row["tuned_alpha"] is None else round(row["tuned_alpha"], 2),
                          None if row["tuned_alpha"] is None else round(row["tuned_alpha"] - row["base_alpha"], 2)]
                         for row in rows], columns=COLUMNS)


def _summary(weights: dict) -> str:
    outside = weights["outside_2_to_6"]
    return message(f"Mean alpha over {len(weights['layers'])} layers: base {weights['base_mean_alpha']:.2f}, tuned "
                   f"{weights['tuned_mean_alpha']:.2f}; layers outside 2-6: base {outside['base']}, tuned "
                   f"{outside['tuned']}.", "info")


def create_weights_panel(store: Store, guard: Guard, settings: Settings, project: gr.Dropdown,
                         run_pick: gr.Dropdown) -> None:
    with gr.Accordion("The weights, without data (WeightWatcher)", open=False, elem_id="weights-panel"):
        gr.Markdown(f"{MEANING} {ADAPTER_ONLY}")
        with gr.Row():
            check = gr.Button("Check the weights", size="sm", scale=0, min_width=200, elem_id="weights-check")
            notice = gr.Markdown(elem_id="weights-notice")
        table = gr.Dataframe(pd.DataFrame(columns=COLUMNS), interactive=False, elem_id="weights-table")

    def run_of(picked, run_value):
        run = store.find_run(run_value, picked.id) if picked and run_value else None
        if run is None:
            raise StoreError("Pick a run first.")
        return run

    def on_check(picked, run_value):
        try:
            run = run_of(picked, run_value)
            weights = check_weights(run, materialize(run.base_model, settings.model_cache))
        except (StoreError, WeightsError, ModelError) as error:
            return {notice: message(str(error), "error"), table: _frame(None)}
        return {notice: _summary(weights), table: _frame(weights)}

    def on_run(picked, run_value):
        try:
            weights = cached_weights(run_of(picked, run_value))
        except StoreError:
            weights = None
        return {notice: _summary(weights) if weights else "", table: _frame(weights)}

    check.click(guard("results", on_check), [project, run_pick], [notice, table], api_name="check_weights",
                concurrency_limit=1, concurrency_id="generation")
    run_pick.change(guard("results", on_run, quiet=True), [project, run_pick], [notice, table],
                    api_visibility="undocumented")
