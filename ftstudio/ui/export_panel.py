"""The Train tab's "Export the model" panel: the picked run as a merged folder, a GGUF file or an Ollama model, with
a progress bar, the export's self-check against the studio, and a download. Over shipping.export_run, as the CLI's
`export-model` is."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ftstudio.config import Settings
from ftstudio.models import ModelError
from ftstudio.shipping.check import describe
from ftstudio.shipping.export import FORMATS, export_run
from ftstudio.shipping.gguf_export import QUANTIZATIONS
from ftstudio.store import Store
from ftstudio.training import results
from ftstudio.ui.format import message, safe_filename
from ftstudio.ui.handlers import Guard

FORMAT_HELP = ("merged: a Hugging Face folder (safetensors, tokenizer with the run's template) · gguf: one file for "
               "llama.cpp, LM Studio and friends · ollama: the GGUF with a Modelfile (`ollama create NAME -f Modelfile`)")


@dataclass
class ExportPanel:
    format: gr.Radio
    quantization: gr.Radio
    button: gr.Button
    file: gr.File
    check: gr.Markdown


def layout_export_panel() -> ExportPanel:
    """An accordion of its own, for the run picked in the runs list above."""
    with gr.Accordion("Export the model (merged, GGUF, Ollama)", open=False, elem_id="export-model"):
        with gr.Row():
            fmt = gr.Radio(list(FORMATS), value="gguf", label="Format", info=FORMAT_HELP, elem_id="export-format")
            quantization = gr.Radio(list(QUANTIZATIONS), value="f16", label="GGUF weights",
                                    info="f16, or q8_0 at about half the size (merged keeps the model's own)",
                                    elem_id="export-quantization")
        button = gr.Button("Export and check", elem_id="export-button")
        check = gr.Markdown(elem_id="export-check")
        file = gr.File(label="Download", interactive=False, elem_id="export-file")
    return ExportPanel(fmt, quantization, button, file, check)


def check_markdown(result) -> str:
    """The export's self-check, for people: the figures, and where the export went."""
    check = result.check
    kind = "ok" if check.get("agreement") is None or check["agreement"] >= 0.97 else "info"
    lines = [message(describe(check), kind),
             f"Greedy next tokens that agree: **{check.get('agreement')}** · largest logit difference: "
             f"**{check.get('max_logit_diff')}** · prompts: **{check.get('prompts')}** "
             f"· {result.bytes / 2**20:,.1f} MB"]
    return "\n\n".join(lines)


class ExportHandlers:
    def __init__(self, panel: ExportPanel, store: Store, settings: Settings):
        self.panel, self.store, self.settings = panel, store, settings

    def export(self, run_value, fmt, quantization, progress=gr.Progress()):
        panel = self.panel
        run = self.store.get_run(int(run_value)) if run_value else None
        if run is None:
            return {panel.file: None, panel.check: message("Pick a run in the list above first.", "error")}
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = self.settings.home / "exports" / safe_filename(f"{run.name}-{fmt}-{stamp}")
        try:
            result = export_run(Path(run.run_dir), out, fmt, quantization, name=safe_filename(run.name),
                                progress=lambda fraction, text: progress(fraction, desc=text))
        except (ValueError, ModelError, OSError) as error:
            return {panel.file: None, panel.check: message(f"Not exported: {error}", "error")}
        download = result.path if result.path.is_file() else results.zip_folder(out, out.parent, out.name)
        return {panel.file: str(download), panel.check: check_markdown(result)}


def wire_export_panel(panel: ExportPanel, guard: Guard, run_pick: gr.Dropdown, store: Store,
                      settings: Settings) -> None:
    handle = ExportHandlers(panel, store, settings)
    panel.button.click(guard("train", handle.export, project=False), [run_pick, panel.format, panel.quantization],
                       [panel.file, panel.check], api_name="export_model", concurrency_limit=1,
                       concurrency_id="export-model")
