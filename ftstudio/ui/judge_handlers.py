"""The Judge tab's handlers: each turns widget values into one call to ftstudio.evaluation and returns named
updates ({widget: update}) for the widgets the layout made (judge_tab.JudgeWidgets)."""

from __future__ import annotations

import gradio as gr

from ftstudio.config import Settings
from ftstudio.evaluation import review as reviewing
from ftstudio.evaluation.compare import review_queue
from ftstudio.evaluation.jobs import GenerationError
from ftstudio.evaluation.judge_prompts import active_prompt, default_prompt, prompt_versions, save_prompt
from ftstudio.evaluation.judging import judge_review, make_judge
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.evaluation.verdicts import pairwise_summary, single_summary
from ftstudio.models import ModelError
from ftstudio.remote import key_source
from ftstudio.secret_store import JUDGE_KEY, save_secret
from ftstudio.store import Store, StoreError
from ftstudio.templates import TemplateError
from ftstudio.ui.format import escape, message
from ftstudio.ui.review_tab import project_runs, run_choices
from ftstudio.wording import plural


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
    same_answers = outcome.same_answers + len(review_queue(store, review).identical)
    if same_answers:
        lines.append(f"- {plural(same_answers, 'pair')} had the same words from both systems: ties, not "
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


class JudgeHandlers:
    """Handlers over one store and the tab's widgets (`w`); `cancels` holds each session's cancel flag."""

    def __init__(self, store: Store, settings: Settings, widgets, cancels):
        self.store, self.settings, self.w, self.cancels = store, settings, widgets, cancels

    @staticmethod
    def current_project(picked):
        if picked is None:
            raise EvaluationError("Pick a project first.")
        return picked

    def _prompt(self, caption="", rubric="", system="", template="") -> dict:
        w = self.w
        return {w.prompt_caption: caption, w.rubric: rubric, w.system_prompt: system, w.template: template}

    def show_prompt(self, picked, mode):
        try:
            chosen = self.current_project(picked)
        except EvaluationError as error:
            return self._prompt(message(str(error), "info"))
        prompt = active_prompt(self.store, chosen, mode)
        versions = [p.version for p in prompt_versions(self.store, chosen, mode)]
        by = f", saved by {escape(prompt.created_by)}" if prompt.created_by else ""
        caption = (f"In use: **{escape(prompt.version)}**{by} · versions: {escape(', '.join(versions))}. "
                   "Judgments record the version they were made with; a new version is judged afresh.")
        return self._prompt(caption, prompt.rubric, prompt.system_prompt, prompt.template)

    def on_project(self, picked, run_value, mode):
        w = self.w
        chosen, runs = project_runs(self.store, picked)
        choices = run_choices(runs)
        values = [value for _, value in choices]
        run_chosen = run_value if run_value in values else (values[0] if values else None)
        remembered = (chosen.settings.get("judge") if chosen else None) or {}
        updates = {w.run_pick: gr.update(choices=choices, value=run_chosen)}
        # Only a remembered endpoint replaces the fields: what someone is typing is never wiped by a refresh.
        if remembered.get("base_url"):
            updates |= {w.kind: gr.update(value="remote"), w.base_url: remembered["base_url"],
                        w.judge_model: remembered.get("model", ""), w.concurrency: remembered.get("concurrency", 16)}
        else:
            updates |= {widget: gr.update() for widget in (w.kind, w.base_url, w.judge_model, w.concurrency)}
        return updates | self.show_prompt(picked, mode)

    def on_kind(self, kind):
        remote = kind == "remote"
        return {self.w.local_model: gr.update(visible=not remote), self.w.remote_group: gr.update(visible=remote),
                self.w.key_status: gr.update(visible=remote)}

    def on_judge(self, caller, picked, run_value, mode, kind, local_value, url, model_name, in_flight, again,
                 judge_user, request: gr.Request, progress=gr.Progress()):
        session = request.session_hash if request else "api"
        flag = self.cancels.start(session)
        try:
            chosen = self.current_project(picked)
            run = self.store.find_run(run_value, chosen.id) if run_value else None
            if run is None:
                raise EvaluationError("Pick a finished run whose answers were generated on the Review tab.")
            review = reviewing.latest_review(self.store, run)
            if review is None:
                raise EvaluationError(f"Run {run.id} has no answers yet: generate them on the Review tab first.")
            remote = kind == "remote"
            if remote and not 1 <= int(in_flight or 0) <= 256:
                raise EvaluationError("Requests in flight is a whole number from 1 to 256.")
            judge = make_judge(self.settings, url if remote else "local", model_name if remote else (local_value or None),
                               int(in_flight or 16))
            if remote:
                self.store.update_project(chosen.id, settings={"judge": {
                    "base_url": judge.remote.base_url, "model": judge.remote.model, "concurrency": int(in_flight)}})

            def show_progress(done, total):
                progress(done / total if total else 1.0, desc=f"{done} of {total} judgments")

            outcome = judge_review(self.store, review, judge, mode, caller.recorded_name(judge_user), bool(again),
                                   show_progress, flag.is_set)
        except (EvaluationError, GenerationError, ModelError, StoreError, TemplateError, OSError) as error:
            return {self.w.judge_notice: message(str(error), "error")}
        finally:
            self.cancels.finish(session)
        return {self.w.judge_notice: summary_markdown(self.store, review, outcome)}

    def on_cancel(self, request: gr.Request):
        if self.cancels.cancel(request.session_hash if request else "api"):
            return {self.w.judge_notice: message("Cancelling: judgments in flight finish; the rest are asked next "
                                                 "time.", "ok")}
        return {self.w.judge_notice: message("No judge is running right now.", "info")}

    def on_save_key(self, value):
        if not (value or "").strip():
            return {self.w.api_key: "", self.w.key_status: message("Type or paste the key first.", "error")}
        save_secret(self.settings.home, JUDGE_KEY, value)
        return {self.w.api_key: "", self.w.key_status: key_note(self.settings)}

    def on_forget_key(self):
        save_secret(self.settings.home, JUDGE_KEY, None)
        return {self.w.key_status: key_note(self.settings)}

    def on_save_prompt(self, caller, picked, mode, rubric_text, system_text, template_text, editor):
        unchanged = {widget: gr.update() for widget in self.w.prompt_fields}
        try:
            chosen = self.current_project(picked)
            prompt, added = save_prompt(self.store, chosen, mode, system_text, template_text, rubric_text,
                                        caller.recorded_name(editor))
        except (EvaluationError, TemplateError) as error:
            return {self.w.prompt_notice: message(str(error), "error")} | unchanged
        note = (f"Saved as {prompt.version}: the next judging run uses it." if added else
                f"Nothing changed: {prompt.version} already says this.")
        return {self.w.prompt_notice: message(note, "ok")} | self.show_prompt(picked, mode)

    def on_reset_prompt(self, caller, picked, mode, editor):
        try:
            built_in = default_prompt(self.current_project(picked), mode)
        except EvaluationError as error:
            return {self.w.prompt_notice: message(str(error), "error")} | {
                widget: gr.update() for widget in self.w.prompt_fields}
        return self.on_save_prompt(caller, picked, mode, built_in.rubric, built_in.system_prompt, built_in.template,
                                   editor)
