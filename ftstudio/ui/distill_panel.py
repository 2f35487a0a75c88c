"""The Label tab's "Draft every missing output with a teacher" panel: a registered system writes outputs for the
project's items that have an input and none yet (ftstudio.evaluation.distill), as `ftstudio distill` does."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftstudio.config import Settings
from ftstudio.evaluation.distill import distill
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.store import Store, StoreError
from ftstudio.ui.format import escape, message


@dataclass
class DistillWidgets:
    teacher: gr.Dropdown
    limit: gr.Number
    accept: gr.Checkbox
    start: gr.Button
    notice: gr.Markdown


def distill_layout() -> DistillWidgets:
    with gr.Accordion("Draft every missing output with a teacher (distillation)", open=False,
                      elem_id="distill-panel"):
        gr.Markdown("A system added under Review → Systems behind an endpoint writes outputs for this project's "
                    "items that have an input and no output yet. Its drafts wait here for acceptance (each item "
                    "opens with the teacher's draft), or are accepted at once as examples marked teacher. Drafts "
                    "are kept: running it again costs nothing for those.")
        with gr.Row():
            teacher = gr.Dropdown([], label="Teacher", elem_id="distill-teacher", allow_custom_value=True)
            limit = gr.Number(0, precision=0, minimum=0, label="At most (0: every item)", elem_id="distill-limit")
            accept = gr.Checkbox(False, label="Accept as examples marked teacher", elem_id="distill-accept")
        start = gr.Button("Draft with the teacher", size="sm", elem_id="distill-start")
        notice = gr.Markdown(elem_id="distill-notice")
    return DistillWidgets(teacher, limit, accept, start, notice)


class DistillHandlers:
    def __init__(self, store: Store, settings: Settings, widgets: DistillWidgets):
        self.store, self.settings, self.w = store, settings, widgets

    def on_teachers(self, project):
        names = [system.name for system in self.store.list_systems()]
        return {self.w.teacher: gr.update(choices=names, value=names[0] if names else None)}

    def on_distill(self, caller, project, teacher, limit, accept, progress=gr.Progress()):
        if project is None or not teacher:
            return {self.w.notice: message("Pick a project and a teacher (add one under Review → Systems behind an "
                                           "endpoint).", "error")}

        def shown(done, total, cost, projected):
            progress(done / max(total, 1), desc=f"{done}/{total} asked · ${cost:.4f} so far, "
                                                f"${projected:.4f} projected")

        try:
            result = distill(self.store, self.settings, project, teacher, int(limit or 0) or None, bool(accept),
                             caller.name, on_progress=shown)
        except (EvaluationError, StoreError) as error:
            return {self.w.notice: message(str(error), "error")}
        return {self.w.notice: message(escape(result.summary()), "error" if result.failed else "ok")}


def create_distill_panel(store: Store, guard, settings: Settings, project: gr.Dropdown, tab: gr.Tab) -> None:
    """Lay out the panel and wire it: an admin's (it spends money on the teacher's endpoint)."""
    w = distill_layout()
    h = DistillHandlers(store, settings, w)
    w.start.click(guard("settings", h.on_distill), [project, w.teacher, w.limit, w.accept], w.notice,
                  api_name="distill", concurrency_limit=1, concurrency_id="store-writes")
    tab.select(guard("settings", h.on_teachers, quiet=True), project, w.teacher, api_visibility="undocumented")
