"""The Model tab: which base model the studio uses, and a box to try it."""

from __future__ import annotations

import threading

import gradio as gr

from ftstudio.config import Settings
from ftstudio.models import ModelError, generate_text, load_model, load_tokenizer, resolve_source
from ftstudio.ui.format import escape, message


class BaseModelHolder:
    """Loads the base model on first use and keeps it for this app (one per app, never a module global)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._loaded = None

    def get(self):
        with self._lock:
            if self._loaded is None:
                self.settings.ensure_dirs()
                tokenizer = load_tokenizer(self.settings.base_model, self.settings.model_cache)
                model = load_model(self.settings.base_model, self.settings.model_cache)
                self._loaded = (model, tokenizer)
            return self._loaded


def create_model_tab(settings: Settings, holder: BaseModelHolder) -> None:
    try:
        source = resolve_source(settings.base_model)
        where = {"embedded": "shipped with ftstudio, runs offline", "gguf": "a local GGUF file",
                 "local": "a local folder", "hub": "the Hugging Face Hub (needs network once)"}[source.kind]
        gr.Markdown(f"**Base model:** `{escape(source.spec)}` — {where}. "
                    "Set `FTSTUDIO_BASE_MODEL` or `--base-model` to use another.")
    except ModelError as error:
        gr.Markdown(message(str(error), "error"))
    with gr.Row():
        prompt = gr.Textbox(label="Prompt", lines=4, scale=3, elem_id="model-prompt",
                            value="Write a two-line LinkedIn post about dashboards nobody reads.")
        with gr.Column(scale=1):
            max_tokens = gr.Slider(8, 256, value=96, step=8, label="Max new tokens")
            generate_button = gr.Button("Generate", variant="primary", elem_id="generate-button")
    answer = gr.Textbox(label="Base model's answer", lines=8, interactive=False, elem_id="model-answer")
    notice = gr.Markdown()

    def on_generate(text, tokens):
        if not (text or "").strip():
            return "", message("Type a prompt first.", "error")
        try:
            model, tokenizer = holder.get()
        except ModelError as error:
            return "", message(str(error), "error")
        return generate_text(model, tokenizer, [text], int(tokens))[0], ""

    generate_button.click(on_generate, [prompt, max_tokens], [answer, notice])
