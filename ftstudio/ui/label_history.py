"""The Label tab's history: the project's latest accepted examples and where each came from (labeled, imported
as pairs, or a reviewer's correction after a blind vote)."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftstudio import labeling
from ftstudio.store import Store
from ftstudio.ui.handlers import Guard

HISTORY_COLUMNS = ["id", "when", "by", "from", "input", "output", "detail"]
HISTORY_ROWS = 20


def history_frame(store: Store, project) -> pd.DataFrame:
    if project is None:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    rows = labeling.recent_examples(store, project, HISTORY_ROWS)
    return pd.DataFrame([[r["id"], r["at"], r["by"], r["origin"], r["input"][:300], r["output"][:300], r["detail"]]
                         for r in rows], columns=HISTORY_COLUMNS)


def create_label_history(tab: gr.Tab, store: Store, guard: Guard, project: gr.Dropdown) -> gr.Dataframe:
    """An accordion under the Label tab's panel, filled when the tab opens and on Refresh."""
    with gr.Accordion(f"History: the latest {HISTORY_ROWS} accepted examples", open=False,
                      elem_id="label-history"):
        table = gr.Dataframe(pd.DataFrame(columns=HISTORY_COLUMNS), interactive=False, wrap=True,
                             elem_id="label-history-table")
        refresh = gr.Button("Refresh", size="sm", elem_id="label-history-refresh")
    show = guard("label", lambda selected: history_frame(store, selected))
    refresh.click(show, project, table, api_name="label_history")
    tab.select(guard("label", lambda selected: history_frame(store, selected), quiet=True), project, table,
               api_visibility="undocumented")
    return table
