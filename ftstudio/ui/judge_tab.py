"""The Judge tab: let a model judge a run's review answers (a local model, or an OpenAI-compatible endpoint),
pairwise in both orders or graded 1-10, and edit the project's judge prompt (every saved change is a version).

The endpoint, model and concurrency are remembered per project; the API key goes to the studio's secret store
and is never sent back to the browser (the page says only where a key comes from).
"""

from __future__ import annotations

import gradio as gr

from ftstudio.config import Settings
from ftstudio.evaluation import review as reviewing
from ftstudio.evaluation.generations import EvaluationError
from ftstudio.evaluation.jobs import GenerationError
from ftstudio.evaluation.judge_prompts import active_prompt, default_prompt, prompt_versions, save_prompt
from ftstudio.evaluation.judging import judge_review, make_judge
from ftstudio.evaluation.verdicts import pairwise_summary, single_summary
from ftstudio.models import ModelError
from ftstudio.remote import key_source
from ftstudio.secret_store import JUDGE_KEY, save_secret
from ftstudio.store import Store, StoreError
from ftstudio.templates import TemplateError
from ftstudio.ui.handlers import Guard
from ftstudio.ui.format import escape, message
from ftstudio.ui.review_tab import GenerationCancels, project_runs, run_choices
from ftstudio.wording import plural

KINDS = ("local model", "remote endpoint")
MODES = {"pairwise: which answer is better (asked in both orders)": "pairwise",
         "single: grade each answer 1-10": "single"}


def key_note(settings: Settings) -> str:
    source = key_source(settings.home)
    if source is None:
        return message("No API key set: local servers (vLLM, llama.cpp, Ollama) need none; hosted APIs do.", "info")
    return message(f"An API key comes from {source}. It is never shown.", "ok")


def summary_markdown(store: Store, review, outcome) -> str:
    """What one judging run did, and the verdicts so far."""
    lines = [f"**{plural(outcome.judgments, 'judgment')}** by {escape(outcome.judge)} (prompt "
             f"{escape(outcome.prompt_version)}): {plural(outcome.requests, 'request')} now, {outcome.cached} from "
             f"the cache, {outcome.invalid} unparseable, {outcome.failed} failed"
             + (" (press Judge again to retry them)." if outcome.failed else ".")]
    if outcome.same_answers:
        lines.append(f"- {plural(outcome.same_answers, 'pair')} had the same words from both systems: ties, not "
                     "sent to the judge.")
    if outcome.state == "cancelled":
        lines.insert(0, message("Cancelled: every judgment that came back is kept.", "ok"))
    if outcome.mode == "pairwise":
        summary = pairwise_summary(store, review, resamples=1000)
        if summary and summary["position_consistency"] is not None:
            lines.append(f"- Same verdict in both orders on **{summary['position_consistency']:.0%}** of pairs.")
        for entry in (summary or {}).get("win_rates", {}).values():
            lines.append(f"- {escape(entry['verdict'])}")
    else:
        for row in (single_summary(store, review, resamples=1000) or {}).get("systems", []):
            if row["mean"] is not None:
                lines.append(f"- {escape(row['system'])}: **{row['mean']:.1f}** / 10 "
                             f"(95% interval {row['ci_low']:.1f}–{row['ci_high']:.1f}, {row['graded']} graded)")
    lines.append("\nThe Results tab puts these next to people's votes and says how far they agree.")
    return "\n".join(lines)


def create_judge_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings, project: gr.Dropdown,
                     user: gr.Textbox) -> None:
    cancels = GenerationCancels()

    gr.Markdown("### 1 · The judge")
    with gr.Row():
        run_pick = gr.Dropdown([], label="Run whose answers to judge", elem_id="judge-run", scale=2,
                               allow_custom_value=True, info="Its latest review: generate answers on the Review tab.")
        mode = gr.Radio(list(MODES), value=next(iter(MODES)), label="Mode", elem_id="judge-mode", scale=3)
    kind = gr.Radio(list(KINDS), value=KINDS[0], label="Judge", elem_id="judge-kind",
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

    # --- handlers ---

    def current_project(picked):
        chosen = picked
        if chosen is None:
            raise EvaluationError("Pick a project first.")
        return chosen

    def show_prompt(picked, mode_label):
        try:
            chosen = current_project(picked)
        except EvaluationError as error:
            return message(str(error), "info"), "", "", ""
        prompt = active_prompt(store, chosen, MODES[mode_label])
        versions = [p.version for p in prompt_versions(store, chosen, MODES[mode_label])]
        by = f", saved by {escape(prompt.created_by)}" if prompt.created_by else ""
        caption = (f"In use: **{escape(prompt.version)}**{by} · versions: {escape(', '.join(versions))}. "
                   "Judgments record the version they were made with; a new version is judged afresh.")
        return caption, prompt.rubric, prompt.system_prompt, prompt.template

    def on_project(picked, run_value, mode_label):
        chosen, runs = project_runs(store, picked)
        choices = run_choices(runs)
        values = [value for _, value in choices]
        run_chosen = run_value if run_value in values else (values[0] if values else None)
        remembered = (chosen.settings.get("judge") if chosen else None) or {}
        # Only a remembered endpoint replaces the fields: what someone is typing is never wiped by a refresh.
        endpoint = ((gr.update(value=KINDS[1]), remembered["base_url"], remembered.get("model", ""),
                     remembered.get("concurrency", 16)) if remembered.get("base_url") else (gr.update(),) * 4)
        return (gr.update(choices=choices, value=run_chosen), *endpoint, *show_prompt(picked, mode_label))

    def on_kind(kind_value):
        remote = kind_value == KINDS[1]
        return gr.update(visible=not remote), gr.update(visible=remote), gr.update(visible=remote)

    def on_judge(caller, picked, run_value, mode_label, kind_value, local_value, url, model_name, in_flight, again,
                 judge_user, request: gr.Request, progress=gr.Progress()):
        session = request.session_hash if request else "api"
        flag = cancels.start(session)
        try:
            chosen = current_project(picked)
            run = store.find_run(run_value, chosen.id) if run_value else None
            if run is None:
                raise EvaluationError("Pick a finished run whose answers were generated on the Review tab.")
            review = reviewing.latest_review(store, run)
            if review is None:
                raise EvaluationError(f"Run {run.id} has no answers yet: generate them on the Review tab first.")
            remote = kind_value == KINDS[1]
            if remote and not 1 <= int(in_flight or 0) <= 256:
                raise EvaluationError("Requests in flight is a whole number from 1 to 256.")
            judge = make_judge(settings, url if remote else "local", model_name if remote else (local_value or None),
                               int(in_flight or 16))
            if remote:
                store.update_project(chosen.id, settings={"judge": {
                    "base_url": judge.remote.base_url, "model": judge.remote.model, "concurrency": int(in_flight)}})

            def show_progress(done, total):
                progress(done / total if total else 1.0, desc=f"{done} of {total} judgments")

            outcome = judge_review(store, review, judge, MODES[mode_label], caller.recorded_name(judge_user),
                                   bool(again), show_progress, flag.is_set)
        except (EvaluationError, GenerationError, ModelError, StoreError, TemplateError, OSError) as error:
            return message(str(error), "error")
        finally:
            cancels.finish(session)
        return summary_markdown(store, review, outcome)

    def on_cancel(request: gr.Request):
        if cancels.cancel(request.session_hash if request else "api"):
            return message("Cancelling: judgments in flight finish; the rest are asked next time.", "ok")
        return message("No judge is running right now.", "info")

    def on_save_key(value):
        if not (value or "").strip():
            return "", message("Type or paste the key first.", "error")
        save_secret(settings.home, JUDGE_KEY, value)
        return "", key_note(settings)

    def on_forget_key():
        save_secret(settings.home, JUDGE_KEY, None)
        return key_note(settings)

    def on_save_prompt(caller, picked, mode_label, rubric_text, system_text, template_text, editor):
        try:
            chosen = current_project(picked)
            prompt, added = save_prompt(store, chosen, MODES[mode_label], system_text, template_text, rubric_text,
                                        caller.recorded_name(editor))
        except (EvaluationError, TemplateError) as error:
            return (message(str(error), "error"),) + (gr.update(),) * 4
        note = (f"Saved as {prompt.version}: the next judging run uses it." if added else
                f"Nothing changed: {prompt.version} already says this.")
        return (message(note, "ok"), *show_prompt(picked, mode_label))

    def on_reset_prompt(caller, picked, mode_label, editor):
        try:
            built_in = default_prompt(current_project(picked), MODES[mode_label])
        except EvaluationError as error:
            return (message(str(error), "error"),) + (gr.update(),) * 4
        return on_save_prompt(caller, picked, mode_label, built_in.rubric, built_in.system_prompt, built_in.template,
                              editor)

    hidden = {"api_visibility": "undocumented"}
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    prompt_fields = [prompt_caption, rubric, system_prompt, template]
    judge_button.click(guard("judge", on_judge), [project, run_pick, mode, kind, local_model, base_url, judge_model, concurrency,
                                  retry_invalid, user], judge_notice, api_name="judge", concurrency_limit=1,
                       concurrency_id="generation")
    cancel_button.click(guard("judge", on_cancel, project=False), None, judge_notice, api_name="cancel_judge")
    save_key.click(guard("judge", on_save_key, project=False), api_key, [api_key, key_status], api_name="save_judge_key")
    forget_key.click(guard("judge", on_forget_key, project=False), None, key_status, api_name="forget_judge_key")
    save_prompt_button.click(guard("judge", on_save_prompt), [project, mode, rubric, system_prompt, template, user],
                             [prompt_notice] + prompt_fields, api_name="save_judge_prompt", **writes)
    reset_prompt_button.click(guard("judge", on_reset_prompt), [project, mode, user], [prompt_notice] + prompt_fields,
                              api_name="reset_judge_prompt", **writes)
    kind.change(guard("judge", on_kind, project=False, quiet=True), kind, [local_model, remote_group, key_status], **hidden)
    mode.change(guard("judge", show_prompt, quiet=True), [project, mode], prompt_fields, **hidden)
    loaded = [run_pick, kind, base_url, judge_model, concurrency] + prompt_fields
    project.change(guard("judge", on_project, quiet=True), [project, run_pick, mode], loaded, **hidden)
    tab.select(guard("judge", on_project, quiet=True), [project, run_pick, mode], loaded, **hidden)
