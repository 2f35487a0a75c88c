"""The Train tab's Sweep panel: a grid of settings over the form's run (learning_rate=1e-4,3e-4 r=8,16), trained one
run after another in the queue, shown ranked beside each other; cancel stops the sweep's runs."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftstudio.store import Store, StoreError
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.training.sweep import cancel_sweep, find_sweep, parse_grid, start_sweep, sweep_summary
from ftstudio.ui.format import message
from ftstudio.ui.handlers import Guard

COLUMNS = ["rank", "run", "status", "settings", "validation loss", "mean reward", "step"]
HELP = ("Each combination of the grid's values becomes a run of the settings above, queued one after another. "
        "Finished runs are ranked by validation loss (lower is better), or by mean reward for GRPO. Compare two of "
        "them below (Compare two runs).")


def _frame(summary: dict | None) -> pd.DataFrame:
    rows = [] if summary is None else sorted(summary["runs"], key=lambda r: r.get("rank") or 1e9)
    return pd.DataFrame([[row.get("rank", ""), row["id"], row["status"],
                          " ".join(f"{k}={v}" for k, v in row["settings"].items()),
                          "" if row["validation_loss"] is None else round(row["validation_loss"], 4),
                          "" if row["reward"] is None else round(row["reward"], 3), row["step"]] for row in rows],
                        columns=COLUMNS)


def create_sweep_panel(store: Store, guard: Guard, manager: RunManager, project: gr.Dropdown, form: list,
                       widget_config) -> None:
    """`form` is the Train tab's version, objective, method and setting widgets; `widget_config(objective, method,
    settings)` turns their values into the TrainConfig each grid point starts from."""
    with gr.Accordion("Sweep", open=False, elem_id="sweep-panel"):
        gr.Markdown(HELP)
        with gr.Row(equal_height=True):
            grid = gr.Textbox(label="Grid", placeholder="learning_rate=1e-4,3e-4 r=8,16", max_lines=1, scale=3,
                              elem_id="sweep-grid")
            start = gr.Button("Start sweep", variant="primary", scale=1, elem_id="sweep-start")
            cancel = gr.Button("Cancel sweep", scale=1, elem_id="sweep-cancel")
            refresh = gr.Button("Refresh", scale=1, elem_id="sweep-refresh")
        notice = gr.Markdown(elem_id="sweep-notice")
        table = gr.Dataframe(pd.DataFrame(columns=COLUMNS), interactive=False, elem_id="sweep-table")

    def on_start(caller, picked, grid_text, version_name, objective_value, method_value, *values):
        try:
            if picked is None:
                raise StoreError("Pick a project on the Data tab first.")
            config = widget_config(objective_value, method_value, values)
            sweep = start_sweep(store, manager, picked, version_name or "", config,
                                parse_grid((grid_text or "").split()), user_name=caller.name)
        except (StoreError, RunError, ValueError) as error:
            return {notice: message(str(error), "error"), table: gr.update()}
        return {notice: message(f"Sweep {sweep.id}: {len(sweep.runs)} runs queued (runs "
                                f"{', '.join(map(str, sweep.runs))}).", "ok"),
                table: _frame(sweep_summary(store, sweep))}

    def on_refresh(picked):
        try:
            summary = sweep_summary(store, find_sweep(store, picked, None)) if picked else None
        except RunError:
            summary = None
        best = f"Best so far: run {summary['best']}." if summary and summary["best"] else ""
        return {table: _frame(summary), notice: message(best, "ok") if best else ""}

    def on_cancel(picked):
        try:
            if picked is None:
                raise StoreError("Pick a project on the Data tab first.")
            sweep = find_sweep(store, picked, None)
            count = cancel_sweep(store, manager, sweep)
        except (StoreError, RunError) as error:
            return {notice: message(str(error), "error"), table: gr.update()}
        return {notice: message(f"Cancelling {count} run(s) of sweep {sweep.id}.", "ok"),
                table: _frame(sweep_summary(store, sweep))}

    start.click(guard("train", on_start), [project, grid, *form], [notice, table], api_name="start_sweep",
                concurrency_limit=1, concurrency_id="store-writes")
    refresh.click(guard("train", on_refresh, quiet=True), project, [table, notice], api_name="sweep_results")
    cancel.click(guard("train", on_cancel), project, [notice, table], api_name="cancel_sweep")
