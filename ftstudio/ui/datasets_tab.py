"""The Datasets tab: choose a template, preview it token by token, freeze versions, export them."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from ftstudio import versions
from ftstudio.config import Settings
from ftstudio.generation import BaseModel
from ftstudio.models import ModelError
from ftstudio.store import Store, StoreError
from ftstudio.templates import (PRESETS, Template, TemplateError, chat_messages, check, token_lengths,
                                token_preview)
from ftstudio.ui.handlers import Guard
from ftstudio.ui.format import message, safe_filename
from ftstudio.ui.preferences_panel import create_preferences_panel
from ftstudio.ui.text_version_panel import create_text_version_panel

VERSION_COLUMNS = ["name", "hash", "train", "validation", "test", "labels", "template", "created"]


def _versions_frame(rows: list) -> pd.DataFrame:
    return pd.DataFrame(
        [[v.name, v.content_hash, v.counts["train"], v.counts["validation"], v.counts["test"],
          ", ".join(f"{k}: {n}" for k, n in v.counts.get("labels", {}).items()),
          "preference pairs" if v.is_preferences else "raw text" if v.is_text else v.template.get("preset", ""),
          f"{v.created_at:%Y-%m-%d %H:%M}"] for v in rows],
        columns=VERSION_COLUMNS,
    )


def _histogram(lengths: list[int], limit: int):
    """A histogram of example lengths in tokens, with the maximum length marked."""
    import plotly.graph_objects as go

    figure = go.Figure(go.Histogram(x=lengths, nbinsx=30, marker_color="#6366f1", name="examples"))
    if lengths and max(lengths) > limit * 0.8:
        figure.add_vline(x=limit, line_dash="dash", line_color="#dc2626", annotation_text=f"max {limit}")
    figure.update_layout(title="Length of every accepted example (tokens)", height=280, bargap=0.05,
                         margin={"l": 40, "r": 20, "t": 40, "b": 40}, xaxis_title="tokens", yaxis_title="examples",
                         template="plotly_white")
    return figure


@dataclass
class DatasetsLayout:
    """The Datasets tab's widgets, by what they are."""

    preset: gr.Radio
    system: gr.Textbox
    custom_row: gr.Row
    prompt_source: gr.Code
    completion_source: gr.Code
    example_number: gr.Number
    max_length: gr.Number
    completion_only: gr.Checkbox
    preview_button: gr.Button
    save_template: gr.Button
    preview: gr.HighlightedText
    preview_caption: gr.Markdown
    histogram: gr.Plot
    version_name: gr.Textbox
    split: gr.Textbox
    seed: gr.Number
    freeze_button: gr.Button
    split_plan: gr.Markdown
    freeze_notice: gr.Markdown
    versions_table: gr.Dataframe
    version_pick: gr.Dropdown
    export_format: gr.Dropdown
    export_button: gr.Button
    export_file: gr.File
    repo_id: gr.Textbox
    push_button: gr.Button
    export_notice: gr.Markdown

    @property
    def template_widgets(self) -> list:
        return [self.preset, self.system, self.prompt_source, self.completion_source]


def _template_section() -> dict:
    gr.Markdown("### 1 · Template: how an example becomes training text")
    with gr.Row():
        preset = gr.Radio(list(PRESETS), value="chat", label="Template", elem_id="template-preset",
                          info="chat: the base model's own chat format (recommended) · instruction: [INST] … [/INST] "
                               "· alpaca · custom: your own Jinja")
        system = gr.Textbox(label="System prompt (optional)", lines=2, elem_id="template-system")
    with gr.Row(visible=False) as custom_row:
        prompt_source = gr.Code(label="Prompt (Jinja: input, label, system)", language="jinja2", lines=4,
                                value="Question: {{ input }}\nAnswer:")
        completion_source = gr.Code(label="Completion, the trained part (Jinja: output)", language="jinja2", lines=4,
                                    value=" {{ output }}")
    with gr.Row():
        example_number = gr.Number(value=1, precision=0, label="Preview example #", scale=1)
        max_length = gr.Number(value=1024, precision=0, label="Maximum length (tokens)", scale=1)
        completion_only = gr.Checkbox(value=True, label="Train on the completion only", scale=1)
        preview_button = gr.Button("Preview", variant="secondary", scale=1, elem_id="preview-button")
        save_template = gr.Button("Save as the project's template", scale=1)
    preview = gr.HighlightedText(label="Tokens (highlighted: trained on)", color_map={"trained": "#a5b4fc"},
                                 combine_adjacent=False, show_legend=True, elem_id="token-preview")
    preview_caption = gr.Markdown(elem_id="preview-caption")
    histogram = gr.Plot(label="Lengths", elem_id="length-histogram")
    return dict(preset=preset, system=system, custom_row=custom_row, prompt_source=prompt_source,
                completion_source=completion_source, example_number=example_number, max_length=max_length,
                completion_only=completion_only, preview_button=preview_button, save_template=save_template,
                preview=preview, preview_caption=preview_caption, histogram=histogram)


def _freeze_section() -> dict:
    gr.Markdown("### 2 · Freeze a version")
    with gr.Row(equal_height=True):
        version_name = gr.Textbox(label="Name", placeholder="v1, v2, … by default", max_lines=1)
        split = gr.Textbox(value="0.8,0.1,0.1", label="Train, validation, test", max_lines=1)
        seed = gr.Number(value=0, precision=0, label="Seed")
        freeze_button = gr.Button("Freeze", variant="primary", elem_id="freeze-button")
    split_plan = gr.Markdown(elem_id="split-plan")
    freeze_notice = gr.Markdown(elem_id="freeze-notice")
    versions_table = gr.Dataframe(pd.DataFrame(columns=VERSION_COLUMNS), interactive=False, label="Versions",
                                  elem_id="versions-table")
    return dict(version_name=version_name, split=split, seed=seed, freeze_button=freeze_button,
                split_plan=split_plan, freeze_notice=freeze_notice, versions_table=versions_table)


def _export_section() -> dict:
    gr.Markdown("### 3 · Export")
    with gr.Row(equal_height=True):
        version_pick = gr.Dropdown([], label="Version", allow_custom_value=True)
        export_format = gr.Dropdown(list(versions.EXPORT_FORMATS), value="jsonl", label="Format",
                                    info="jsonl: chat messages · jsonl-prompt: prompt/completion · parquet · "
                                         "hf: a datasets DatasetDict")
        export_button = gr.Button("Export", elem_id="export-button")
    export_file = gr.File(label="Download", interactive=False, elem_id="export-file")
    with gr.Accordion("Push to the Hugging Face Hub", open=False):
        gr.Markdown("Needs a write token in the `HF_TOKEN` environment variable, and network.")
        with gr.Row():
            repo_id = gr.Textbox(label="Dataset repository", placeholder="your-name/linkedin-posts")
            push_button = gr.Button("Push")
    export_notice = gr.Markdown()
    return dict(version_pick=version_pick, export_format=export_format, export_button=export_button,
                export_file=export_file, repo_id=repo_id, push_button=push_button, export_notice=export_notice)


def _selected(picked):
    if picked is None:
        raise StoreError("Pick a project on the Data tab first.")
    return picked


def _template_from(preset_value, system_value, prompt_value, completion_value) -> Template:
    return Template(preset_value, system_value or "", prompt_value or "", completion_value or "")


class DatasetsHandlers:
    """The tab's handlers: each turns widget values into one call to ftstudio.versions (or the store) and
    answers with named updates of the layout's widgets."""

    def __init__(self, ui: DatasetsLayout, store: Store, settings: Settings, base_model: BaseModel):
        self.ui, self.store, self.base_model = ui, store, base_model
        self.exports_dir = settings.home / "exports"

    def versions_updates(self, picked) -> dict:
        rows = self.store.list_versions(picked.id) if picked else []
        names = [v.name for v in rows]
        return {self.ui.versions_table: _versions_frame(rows),
                self.ui.version_pick: gr.update(choices=names, value=names[0] if names else None)}

    def on_preview(self, picked, preset_value, system_value, prompt_value, completion_value, number, limit, only):
        ui = self.ui
        try:
            chosen = _selected(picked)
            template = _template_from(preset_value, system_value, prompt_value, completion_value)
            examples = versions.resolve_examples(self.store, chosen)
            if not examples:
                return {ui.preview: None, ui.histogram: gr.update(),
                        ui.preview_caption: message("No accepted examples yet: label some on the Label tab.", "info")}
            tokenizer = self.base_model.tokenizer
            index = min(max(int(number or 1), 1), len(examples)) - 1
            shown = token_preview(template, examples[index], tokenizer, bool(only))
            lengths = token_lengths(template, examples, tokenizer)
        except (StoreError, TemplateError, ModelError) as error:
            return {ui.preview: None, ui.preview_caption: message(str(error), "error"), ui.histogram: gr.update()}
        limit = max(16, int(limit or 1024))
        too_long = sum(length > int(limit) for length in lengths)
        caption = (f"Example {index + 1} of {len(examples)}: **{shown.total}** tokens, **{shown.completion_tokens}** "
                   f"in the completion. Longest example: **{max(lengths)}** tokens.")
        if template.preset == "chat" and not template.system and \
                chat_messages(template, "", tokenizer)[0]["role"] == "system":
            caption += ("\n\nThe system prompt is empty, so none is sent: this model's chat template would add a "
                        "default one of its own, and gets an empty system turn instead (shown above).")
        if too_long:
            caption += f"\n\n⚠️ {too_long} example(s) are longer than {int(limit)} tokens and would be truncated."
        tokens = [(text, "trained" if trained else None) for text, trained in shown.tokens]
        return {ui.preview: tokens, ui.preview_caption: caption, ui.histogram: _histogram(lengths, int(limit))}

    def on_save_template(self, caller, picked, preset_value, system_value, prompt_value, completion_value):
        try:
            chosen = _selected(picked)
            template = _template_from(preset_value, system_value, prompt_value, completion_value)
            check(template, self.base_model.tokenizer if template.preset == "chat" else None)
            self.store.update_project(chosen.id, settings={"template": template.to_dict()}, user_name=caller.name)
        except (StoreError, TemplateError, ModelError) as error:
            return {self.ui.freeze_notice: message(str(error), "error")}
        return {self.ui.freeze_notice: message("Template saved: new versions of this project use it.", "ok")}

    def on_freeze(self, caller, picked, preset_value, system_value, prompt_value, completion_value, name, split_text,
                  seed_value):
        try:
            chosen = _selected(picked)
            template = _template_from(preset_value, system_value, prompt_value, completion_value)
            if template.preset == "chat":
                check(template, self.base_model.tokenizer)
            before = {v.name for v in self.store.list_versions(chosen.id)}
            plan = versions.SplitPlan(versions.parse_split(split_text), int(seed_value or 0))
            version = versions.freeze_version(self.store, chosen, template, plan, name, caller.name)
        except (StoreError, TemplateError, ModelError, ValueError) as error:
            return {self.ui.freeze_notice: message(str(error), "error"), **self.versions_updates(picked)}
        counts = version.counts
        what = "Nothing changed since" if version.name in before else "Froze"
        note = message(f"{what} version {version.name} ({version.content_hash}): train {counts['train']}, "
                       f"validation {counts['validation']}, test {counts['test']}.", "ok")
        warnings = versions.split_warnings(counts)
        if warnings:
            note += "\n\n" + message(" ".join(warnings), "info")
        return {self.ui.freeze_notice: note, **self.versions_updates(picked)}

    def on_split_plan(self, picked, split_text, seed_value):
        if picked is None:
            return {self.ui.split_plan: ""}
        try:
            plan = versions.SplitPlan(versions.parse_split(split_text or ""), int(seed_value or 0))
        except ValueError as error:
            return {self.ui.split_plan: message(str(error), "error")}
        counts = versions.planned_counts(self.store, picked, plan)
        total = sum(counts.values())
        if not total:
            return {self.ui.split_plan: message("No accepted examples yet: label some on the Label tab, then freeze.",
                                                "info")}
        line = (f"Freezing now: {total} accepted examples → train {counts['train']}, validation "
                f"{counts['validation']}, test {counts['test']}.")
        warnings = versions.split_warnings(counts)
        return {self.ui.split_plan: message(" ".join([line] + warnings), "info" if not warnings else "error")}

    def on_export(self, picked, version_name_value, fmt):
        ui = self.ui
        try:
            chosen = _selected(picked)
            version = versions.get_version(self.store, chosen, version_name_value or "")
            chat = version.template.get("preset") == "chat" and not version.is_preferences
            tokenizer = self.base_model.tokenizer if chat else None
            self.exports_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.exports_dir) as staging:
                folder = Path(staging) / safe_filename(f"{chosen.name}-{version.name}-{fmt}")
                versions.export_version(self.store, version, fmt, folder, tokenizer)
                archive = shutil.make_archive(str(self.exports_dir / folder.name), "zip", folder)
        except (StoreError, TemplateError, ModelError, ValueError) as error:
            return {ui.export_file: None, ui.export_notice: message(str(error), "error")}
        return {ui.export_file: archive, ui.export_notice: message(f"Exported {version.name} as {fmt}.", "ok")}

    def on_push(self, picked, version_name_value, repo):
        try:
            chosen = _selected(picked)
            version = versions.get_version(self.store, chosen, version_name_value or "")
            tokenizer = self.base_model.tokenizer if version.template["preset"] == "chat" else None
            url = versions.push_version(self.store, version, (repo or "").strip(), os.environ.get("HF_TOKEN"),
                                        tokenizer)
        except Exception as error:  # network and Hub errors arrive in many types; show them, lose nothing
            return {self.ui.export_notice: message(f"Push failed: {error}", "error")}
        return {self.ui.export_notice: message(f"Pushed to {url}", "ok")}

    def on_project(self, picked):
        ui = self.ui
        template = Template.from_dict(picked.settings.get("template") if picked else None)
        return {ui.preset: template.preset, ui.system: template.system,
                ui.prompt_source: template.prompt or "Question: {{ input }}\nAnswer:",
                ui.completion_source: template.completion, ui.custom_row: gr.update(visible=template.preset == "custom"),
                **self.versions_updates(picked)}


def create_datasets_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings,
                        base_model: BaseModel, project: gr.Dropdown) -> DatasetsLayout:
    """Lay the tab out and wire its events; returns its widgets."""
    ui = DatasetsLayout(**_template_section(), **_freeze_section(), **_export_section())
    handlers = DatasetsHandlers(ui, store, settings, base_model)
    gr.Markdown("### 4 · Preference pairs")
    create_preferences_panel(store, guard, project, [ui.versions_table, ui.version_pick], handlers.versions_updates)
    create_text_version_panel(store, guard, project, [ui.versions_table, ui.version_pick], handlers.versions_updates)

    template_inputs = [project, *ui.template_widgets]
    hidden = {"api_visibility": "undocumented"}
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    versions_outputs = [ui.versions_table, ui.version_pick]
    ui.preset.change(guard("view", lambda p: gr.update(visible=p == "custom"), project=False, quiet=True), ui.preset,
                     ui.custom_row, **hidden)
    ui.preview_button.click(guard("datasets", handlers.on_preview),
                            template_inputs + [ui.example_number, ui.max_length, ui.completion_only],
                            [ui.preview, ui.preview_caption, ui.histogram], api_name="preview_template")
    ui.save_template.click(guard("settings", handlers.on_save_template), template_inputs, ui.freeze_notice,
                           **writes, **hidden)
    ui.freeze_button.click(guard("datasets", handlers.on_freeze), template_inputs + [ui.version_name, ui.split, ui.seed],
                           [ui.freeze_notice, *versions_outputs], api_name="freeze", **writes)
    ui.export_button.click(guard("datasets", handlers.on_export), [project, ui.version_pick, ui.export_format],
                           [ui.export_file, ui.export_notice], api_name="export")
    ui.push_button.click(guard("datasets", handlers.on_push), [project, ui.version_pick, ui.repo_id],
                         ui.export_notice, **hidden)
    project_outputs = [*ui.template_widgets, ui.custom_row, *versions_outputs]
    split_plan = guard("datasets", handlers.on_split_plan, quiet=True)
    project.change(guard("datasets", handlers.on_project, quiet=True), project, project_outputs, **hidden)
    tab.select(guard("datasets", handlers.on_project, quiet=True), project, project_outputs, **hidden).then(
        split_plan, [project, ui.split, ui.seed], ui.split_plan, **hidden)
    ui.split.change(split_plan, [project, ui.split, ui.seed], ui.split_plan, **hidden)
    ui.seed.change(split_plan, [project, ui.split, ui.seed], ui.split_plan, **hidden)
    return ui
