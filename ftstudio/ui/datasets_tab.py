"""The Datasets tab: choose a template, preview it token by token, freeze versions, export them."""

from __future__ import annotations

import os
import shutil
import tempfile
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

VERSION_COLUMNS = ["name", "hash", "train", "validation", "test", "labels", "template", "created"]


def _versions_frame(rows: list) -> pd.DataFrame:
    return pd.DataFrame(
        [[v.name, v.content_hash, v.counts["train"], v.counts["validation"], v.counts["test"],
          ", ".join(f"{k}: {n}" for k, n in v.counts.get("labels", {}).items()),
          "preference pairs" if v.is_preferences else v.template.get("preset", ""),
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


def create_datasets_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings, base_model: BaseModel,
                        project: gr.Dropdown) -> None:
    exports_dir = settings.home / "exports"

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
    gr.Markdown("### 4 · Preference pairs")
    create_preferences_panel(store, guard, project, [versions_table, version_pick],
                             lambda picked: list_versions(picked))

    # --- handlers ---

    def template_from(preset_value, system_value, prompt_value, completion_value) -> Template:
        return Template(preset_value, system_value or "", prompt_value or "", completion_value or "")

    def selected(picked):
        found = picked
        if found is None:
            raise StoreError("Pick a project on the Data tab first.")
        return found

    def on_preview(picked, preset_value, system_value, prompt_value, completion_value, number, limit, only):
        try:
            chosen = selected(picked)
            template = template_from(preset_value, system_value, prompt_value, completion_value)
            examples = versions.resolve_examples(store, chosen)
            if not examples:
                return None, message("No accepted examples yet: label some on the Label tab.", "info"), gr.update()
            tokenizer = base_model.tokenizer
            index = min(max(int(number or 1), 1), len(examples)) - 1
            shown = token_preview(template, examples[index], tokenizer, bool(only))
            lengths = token_lengths(template, examples, tokenizer)
        except (StoreError, TemplateError, ModelError) as error:
            return None, message(str(error), "error"), gr.update()
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
        return tokens, caption, _histogram(lengths, int(limit))

    def on_save_template(caller, picked, preset_value, system_value, prompt_value, completion_value):
        try:
            chosen = selected(picked)
            template = template_from(preset_value, system_value, prompt_value, completion_value)
            check(template, base_model.tokenizer if template.preset == "chat" else None)
            store.update_project(chosen.id, settings={"template": template.to_dict()}, user_name=caller.name)
        except (StoreError, TemplateError, ModelError) as error:
            return message(str(error), "error")
        return message("Template saved: new versions of this project use it.", "ok")

    def list_versions(picked):
        chosen = picked
        rows = store.list_versions(chosen.id) if chosen else []
        names = [v.name for v in rows]
        return _versions_frame(rows), gr.update(choices=names, value=names[0] if names else None)

    def on_freeze(caller, picked, preset_value, system_value, prompt_value, completion_value, name, split_text, seed_value):
        try:
            chosen = selected(picked)
            template = template_from(preset_value, system_value, prompt_value, completion_value)
            if template.preset == "chat":
                check(template, base_model.tokenizer)
            before = {v.name for v in store.list_versions(chosen.id)}
            version = versions.freeze_version(store, chosen, template,
                                              versions.SplitPlan(versions.parse_split(split_text), int(seed_value or 0)),
                                              name, caller.name)
        except (StoreError, TemplateError, ModelError, ValueError) as error:
            return (message(str(error), "error"), *list_versions(picked))
        counts = version.counts
        what = "Nothing changed since" if version.name in before else "Froze"
        note = message(f"{what} version {version.name} ({version.content_hash}): train {counts['train']}, "
                       f"validation {counts['validation']}, test {counts['test']}.", "ok")
        warnings = versions.split_warnings(counts)
        if warnings:
            note += "\n\n" + message(" ".join(warnings), "info")
        return (note, *list_versions(picked))

    def on_split_plan(picked, split_text, seed_value):
        chosen = picked
        if chosen is None:
            return ""
        try:
            plan = versions.SplitPlan(versions.parse_split(split_text or ""), int(seed_value or 0))
        except ValueError as error:
            return message(str(error), "error")
        counts = versions.planned_counts(store, chosen, plan)
        total = sum(counts.values())
        if not total:
            return message("No accepted examples yet: label some on the Label tab, then freeze.", "info")
        line = (f"Freezing now: {total} accepted examples → train {counts['train']}, validation "
                f"{counts['validation']}, test {counts['test']}.")
        warnings = versions.split_warnings(counts)
        return message(" ".join([line] + warnings), "info" if not warnings else "error")

    def on_export(picked, version_name_value, fmt):
        try:
            chosen = selected(picked)
            version = versions.get_version(store, chosen, version_name_value or "")
            chat = version.template.get("preset") == "chat" and not version.is_preferences
            tokenizer = base_model.tokenizer if chat else None
            exports_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=exports_dir) as staging:
                folder = Path(staging) / safe_filename(f"{chosen.name}-{version.name}-{fmt}")
                versions.export_version(store, version, fmt, folder, tokenizer)
                archive = shutil.make_archive(str(exports_dir / folder.name), "zip", folder)
        except (StoreError, TemplateError, ModelError, ValueError) as error:
            return None, message(str(error), "error")
        return archive, message(f"Exported {version.name} as {fmt}.", "ok")

    def on_push(picked, version_name_value, repo):
        try:
            chosen = selected(picked)
            version = versions.get_version(store, chosen, version_name_value or "")
            tokenizer = base_model.tokenizer if version.template["preset"] == "chat" else None
            url = versions.push_version(store, version, (repo or "").strip(), os.environ.get("HF_TOKEN"), tokenizer)
        except Exception as error:  # network and Hub errors arrive in many types; show them, lose nothing
            return message(f"Push failed: {error}", "error")
        return message(f"Pushed to {url}", "ok")

    def on_project(picked):
        chosen = picked
        template = Template.from_dict(chosen.settings.get("template") if chosen else None)
        return (template.preset, template.system, template.prompt or "Question: {{ input }}\nAnswer:",
                template.completion, gr.update(visible=template.preset == "custom"), *list_versions(picked))

    template_inputs = [project, preset, system, prompt_source, completion_source]
    hidden = {"api_visibility": "undocumented"}
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    preset.change(guard("view", lambda p: gr.update(visible=p == "custom"), project=False, quiet=True), preset, custom_row, **hidden)
    preview_button.click(guard("datasets", on_preview), template_inputs + [example_number, max_length, completion_only],
                         [preview, preview_caption, histogram], api_name="preview_template")
    save_template.click(guard("settings", on_save_template), template_inputs, freeze_notice, **writes, **hidden)
    freeze_button.click(guard("datasets", on_freeze), template_inputs + [version_name, split, seed],
                        [freeze_notice, versions_table, version_pick], api_name="freeze", **writes)
    export_button.click(guard("datasets", on_export), [project, version_pick, export_format], [export_file, export_notice],
                        api_name="export")
    push_button.click(guard("datasets", on_push), [project, version_pick, repo_id], export_notice, **hidden)
    project_outputs = [preset, system, prompt_source, completion_source, custom_row, versions_table, version_pick]
    project.change(guard("datasets", on_project, quiet=True), project, project_outputs, **hidden)
    tab.select(guard("datasets", on_project, quiet=True), project, project_outputs, **hidden).then(guard("datasets", on_split_plan, quiet=True), [project, split, seed], split_plan,
                                                                     **hidden)
    split.change(guard("datasets", on_split_plan, quiet=True), [project, split, seed], split_plan, **hidden)
    seed.change(guard("datasets", on_split_plan, quiet=True), [project, split, seed], split_plan, **hidden)
