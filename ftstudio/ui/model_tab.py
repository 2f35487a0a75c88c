"""The Model tab: which base model the studio uses, and a box to try it."""

from __future__ import annotations

import gradio as gr

from ftstudio.config import Settings
from ftstudio.generation import BaseModel
from ftstudio.models import ModelError, resolve_source
from ftstudio.ui.handlers import Guard
from ftstudio.ui.format import escape, message


def create_model_tab(guard: Guard, settings: Settings, base_model: BaseModel) -> None:
    try:
        source = resolve_source(settings.base_model)
        where = {"embedded": "shipped with ftstudio, runs offline", "gguf": "a local GGUF file",
                 "local": "a local folder", "hub": "the Hugging Face Hub (needs network once)"}[source.kind]
        gr.Markdown(f"**Base model:** {escape(source.spec)} — {where}. "
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
        # The slider's range is only the page's: an API caller can send anything, so the limits hold here too.
        if not 8 <= int(tokens or 0) <= 256 or len(text) > 20_000:
            return "", message("Max new tokens is 8 to 256, and a prompt at most 20,000 characters.", "error")
        try:
            return base_model.generate([text], int(tokens))[0], ""
        except ModelError as error:
            return "", message(str(error), "error")

    generate_button.click(guard("model", on_generate, project=False), [prompt, max_tokens], [answer, notice])
