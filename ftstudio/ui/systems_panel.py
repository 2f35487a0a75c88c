"""The Review tab's "Systems behind an endpoint" panel: add, list and remove the OpenAI-compatible models a review
can compare (hosted APIs, vLLM, llama.cpp's server, Ollama), with their prices. Keys are never typed here: they come
from the environment or the key saved on the Judge tab, and are never shown."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.evaluation.contestants import list_systems, register_system
from ftstudio.store import Store, StoreError
from ftstudio.ui.format import escape, message

COLUMNS = ["name", "model", "url", "price_input_usd_per_m", "price_output_usd_per_m"]


@dataclass
class SystemsWidgets:
    name: gr.Textbox
    url: gr.Textbox
    model: gr.Textbox
    price_input: gr.Number
    price_output: gr.Number
    add: gr.Button
    remove: gr.Button
    table: gr.Dataframe
    notice: gr.Markdown


def systems_layout() -> SystemsWidgets:
    with gr.Accordion("Systems behind an endpoint (hosted models, vLLM, Ollama)", open=False,
                      elem_id="systems-panel"):
        gr.Markdown("Compare the run with any OpenAI-compatible model, or a few-shot prompt of the base model "
                    "(`fewshot`: the 4 nearest train examples before the input). The API key comes from "
                    "FTSTUDIO_JUDGE_API_KEY or OPENAI_API_KEY, or the key saved on the Judge tab; it is never "
                    "stored with the system.")
        with gr.Row():
            name = gr.Textbox(label="Name", placeholder="gpt-mini", elem_id="system-name")
            url = gr.Textbox(label="Endpoint", placeholder="https://api.openai.com/v1", elem_id="system-url")
            model = gr.Textbox(label="Model", placeholder="gpt-4o-mini", elem_id="system-model")
        with gr.Row():
            price_input = gr.Number(None, label="USD per million input tokens", minimum=0)
            price_output = gr.Number(None, label="USD per million output tokens", minimum=0)
            add = gr.Button("Add or update", size="sm", elem_id="system-add")
            remove = gr.Button("Remove by name", size="sm", variant="stop", elem_id="system-remove")
        notice = gr.Markdown(elem_id="systems-notice")
        table = gr.Dataframe(pd.DataFrame(columns=COLUMNS), interactive=False, elem_id="systems-table")
    return SystemsWidgets(name, url, model, price_input, price_output, add, remove, table, notice)


class SystemsHandlers:
    def __init__(self, store: Store, settings: Settings, widgets: SystemsWidgets):
        self.store, self.settings, self.w = store, settings, widgets

    def _table(self) -> pd.DataFrame:
        return pd.DataFrame([{k: row[k] for k in COLUMNS} for row in list_systems(self.store, self.settings)],
                            columns=COLUMNS)

    def on_add(self, name, url, model, price_input, price_output):
        try:
            system = register_system(self.store, name, url, model, price_input, price_output)
        except (StoreError, ValueError) as error:
            return {self.w.notice: message(str(error), "error"), self.w.table: self._table()}
        note = f"Added {system.name}: tick it under Systems to compare (reselect the tab to see it there)."
        return {self.w.notice: message(escape(note), "ok"), self.w.table: self._table()}

    def on_remove(self, name):
        removed = self.store.remove_system((name or "").strip())
        note = message(f"Removed {escape(name)}; its stored answers stay.", "ok") if removed else \
            message(f"No system {escape(name or '')!r}: the table lists them.", "error")
        return {self.w.notice: note, self.w.table: self._table()}

    def on_show(self):
        return {self.w.table: self._table()}


def create_systems_panel(store: Store, guard, settings: Settings) -> SystemsWidgets:
    """Lay out the panel and wire it; changes need the judge's permission (an admin's: endpoints cost money)."""
    w = systems_layout()
    h = SystemsHandlers(store, settings, w)
    w.add.click(guard("judge", h.on_add, project=False),
                [w.name, w.url, w.model, w.price_input, w.price_output], [w.notice, w.table], api_name="add_system")
    w.remove.click(guard("judge", h.on_remove, project=False), [w.name], [w.notice, w.table],
                   api_name="remove_system")
    return w
