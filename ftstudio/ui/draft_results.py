"""The Results tab's drafting panel: per drafting model, the share of its drafts people accepted unchanged and the
median edit size. A tuned run that drafts the next labels should need fewer edits than the base model did."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftstudio import labeling
from ftstudio.store import Store
from ftstudio.ui.handlers import Guard

DRAFT_COLUMNS = ["drafting model", "drafts used", "accepted unchanged", "median edit (0 kept, 1 rewritten)"]


def draft_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([[row["model"], row["drafts"], f"{row['unchanged']:.0%}", round(row["median_change"], 3)]
                         for row in rows], columns=DRAFT_COLUMNS)


def create_draft_results(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, project: gr.Dropdown) -> None:
    with gr.Accordion("Drafts: how much people change each model's drafts", open=False, elem_id="draft-results"):
        gr.Markdown("Over accepted examples whose input or output started as a model draft on the Label tab: a "
                    "model that drafts well is accepted unchanged more often and edited less.")
        table = gr.Dataframe(pd.DataFrame(columns=DRAFT_COLUMNS), interactive=False, elem_id="draft-results-table")
        refresh = gr.Button("Refresh", size="sm", elem_id="draft-results-refresh")

    def on_refresh(picked):
        return draft_frame(labeling.draft_acceptance(store, picked) if picked else [])

    refresh.click(guard("results", on_refresh), project, table, api_name="draft_results")
    tab.select(guard("results", on_refresh, quiet=True), project, table, api_visibility="undocumented")
