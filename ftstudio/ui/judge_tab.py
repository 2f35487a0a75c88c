"""The Judge tab: let a model judge a run's review answers (a local model, or an OpenAI-compatible endpoint),
pairwise in both orders or graded 1-10, and edit the project's judge prompt (every saved change is a version).

The endpoint, model and concurrency are remembered per project; the API key goes to the studio's secret store
and is never sent back to the browser (the page says only where a key comes from).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftstudio.config import Settings
from ftstudio.store import Store
from ftstudio.ui.handlers import Guard
from ftstudio.ui.judge_handlers import JudgeHandlers, key_note
from ftstudio.ui.review_tab import GenerationCancels

# (what people read, the value a handler gets)
KINDS = [("local model", "local"), ("remote endpoint", "remote")]
MODES = [("pairwise: which answer is better (asked in both orders)", "pairwise"),
         ("single: grade each answer 1-10", "single")]


@dataclass
class JudgeWidgets:
    """The Judge tab's widgets, as the layout made them."""

    run_pick: gr.Dropdown
    mode: gr.Radio
    kind: gr.Radio
    local_model: gr.Textbox
    remote_group: gr.Group
    base_url: gr.Textbox
    judge_model: gr.Textbox
    concurrency: gr.Number
    api_key: gr.Textbox
    save_key: gr.Button
    forget_key: gr.Button
    key_status: gr.Markdown
    judge_button: gr.Button
    cancel_button: gr.Button
    retry_invalid: gr.Checkbox
    judge_notice: gr.Markdown
    prompt_caption: gr.Markdown
    rubric: gr.Textbox
    system_prompt: gr.Textbox
    template: gr.Code
    save_prompt_button: gr.Button
    reset_prompt_button: gr.Button
    prompt_notice: gr.Markdown

    @property
    def prompt_fields(self) -> list:
        return [self.prompt_caption, self.rubric, self.system_prompt, self.template]


def judge_layout(settings: Settings) -> JudgeWidgets:
    """Lay out the tab: which judge, how to reach it, and what it is asked."""
    gr.Markdown("### 1 · The judge")
    with gr.Row():
        run_pick = gr.Dropdown([], label="Run whose answers to judge", elem_id="judge-run", scale=2,
                               allow_custom_value=True, info="Its latest review: generate answers on the Review tab.")
        mode = gr.Radio(MODES, value="pairwise", label="Mode", elem_id="judge-mode", scale=3)
    kind = gr.Radio(KINDS, value="local", label="Judge", elem_id="judge-kind",
                    info="A local model runs here in a child process (the embedded default works, but is weak); an "
                         "endpoint is any OpenAI-compatible server: a hosted API, vLLM, TGI, llama.cpp or Ollama.")
    local_model = gr.Textbox(settings.base_model, label="Local judge model", elem_id="judge-local-model",
                             info="The embedded default, a local folder, a .gguf file or a Hub id.")
    with gr.Group(visible=False) as remote_group:
        with gr.Row():
            base_url = gr.Textbox(label="Base URL", placeholder="http://localhost:8000/v1", elem_id="judge-url",
                                  scale=3)
            judge_model = gr.Textbox(label="Model name", placeholder="gpt-4o-mini", elem_id="judge-model", scale=2)
            concurrency = gr.Number(16, precision=0, label="Requests in flight", elem_id="judge-concurrency", scale=1)
        with gr.Row(equal_height=True):
            api_key = gr.Textbox(label="API key (kept in the studio's secret store, never shown again)",
                                 type="password", elem_id="judge-key", scale=4)
            with gr.Column(scale=1, min_width=160):
                save_key = gr.Button("Save key", size="sm", elem_id="judge-save-key")
                forget_key = gr.Button("Forget key", size="sm")
    key_status = gr.Markdown(key_note(settings), elem_id="judge-key-status", visible=False)
    with gr.Row():
        judge_button = gr.Button("Judge", variant="primary", elem_id="judge-start")
        cancel_button = gr.Button("Cancel", elem_id="judge-cancel")
        retry_invalid = gr.Checkbox(False, label="Ask again where the answer could not be parsed")
    judge_notice = gr.Markdown(elem_id="judge-notice")

    gr.Markdown("### 2 · What the judge is asked")
    with gr.Accordion("Judge prompt and rubric (per project, versioned)", open=False):
        prompt_caption = gr.Markdown(elem_id="judge-prompt-caption")
        rubric = gr.Textbox(label="Rubric: what makes an answer better for this project", lines=3,
                            elem_id="judge-rubric")
        system_prompt = gr.Textbox(label="System prompt (says how to give the verdict)", lines=4,
                                   elem_id="judge-system")
        template = gr.Code(label="Template (sandboxed Jinja: input, reference, answer_a, answer_b or answer, rubric)",
                           language="jinja2", lines=10, elem_id="judge-template")
        with gr.Row():
            save_prompt_button = gr.Button("Save as a new version", size="sm", elem_id="judge-prompt-save")
            reset_prompt_button = gr.Button("Back to the built-in prompt", size="sm")
        prompt_notice = gr.Markdown(elem_id="judge-prompt-notice")
    return JudgeWidgets(run_pick, mode, kind, local_model, remote_group, base_url, judge_model, concurrency, api_key,
                        save_key, forget_key, key_status, judge_button, cancel_button, retry_invalid, judge_notice,
                        prompt_caption, rubric, system_prompt, template, save_prompt_button, reset_prompt_button,
                        prompt_notice)


def create_judge_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings, project: gr.Dropdown,
                     user: gr.Textbox) -> None:
    w = judge_layout(settings)
    h = JudgeHandlers(store, settings, w, GenerationCancels())
    hidden = {"api_visibility": "undocumented"}
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    w.judge_button.click(guard("judge", h.on_judge), [project, w.run_pick, w.mode, w.kind, w.local_model, w.base_url,
                                                     w.judge_model, w.concurrency, w.retry_invalid, user],
                         w.judge_notice, api_name="judge", concurrency_limit=1, concurrency_id="generation")
    w.cancel_button.click(guard("judge", h.on_cancel, project=False), None, w.judge_notice, api_name="cancel_judge")
    w.save_key.click(guard("judge", h.on_save_key, project=False), w.api_key, [w.api_key, w.key_status],
                     api_name="save_judge_key")
    w.forget_key.click(guard("judge", h.on_forget_key, project=False), None, w.key_status, api_name="forget_judge_key")
    w.save_prompt_button.click(guard("judge", h.on_save_prompt),
                               [project, w.mode, w.rubric, w.system_prompt, w.template, user],
                               [w.prompt_notice] + w.prompt_fields, api_name="save_judge_prompt", **writes)
    w.reset_prompt_button.click(guard("judge", h.on_reset_prompt), [project, w.mode, user],
                                [w.prompt_notice] + w.prompt_fields, api_name="reset_judge_prompt", **writes)
    w.kind.change(guard("judge", h.on_kind, project=False, quiet=True), w.kind,
                  [w.local_model, w.remote_group, w.key_status], **hidden)
    w.mode.change(guard("judge", h.show_prompt, quiet=True), [project, w.mode], w.prompt_fields, **hidden)
    loaded = [w.run_pick, w.kind, w.base_url, w.judge_model, w.concurrency] + w.prompt_fields
    for event in (project.change, tab.select):
        event(guard("judge", h.on_project, quiet=True), [project, w.run_pick, w.mode], loaded, **hidden)
