"""The Results tab's own-metrics panel: add or remove a project's evaluate modules by path (the same functions as
`ftstudio metrics --project P --add-metric PATH`); they are computed with the automatic metrics, in their table.

A module is Python code run by the app, so only admins (the "settings" action) may add one, and only by a path on
the studio's own machine."""

from __future__ import annotations

import gradio as gr

from ftstudio.evaluation import metric_modules
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.store import Store, StoreError
from ftstudio.ui.format import escape, message
from ftstudio.ui.handlers import Guard


def _listing(project) -> str:
    paths = metric_modules.project_metric_paths(project) if project else []
    if not paths:
        return "This project has no metrics of its own yet."
    return "Your evaluate modules: " + " · ".join(f"**{escape(metric_modules.module_name(p))}** ({escape(p)})"
                                                 for p in paths)


def create_metric_modules_panel(store: Store, guard: Guard, project: gr.Dropdown) -> None:
    with gr.Accordion("Your own metrics (evaluate modules)", open=False, elem_id="own-metrics"):
        gr.Markdown("Built in: " + ", ".join(metric_modules.BUILTIN) + ". Add an `evaluate` module by its path on "
                    "this machine (a folder NAME holding NAME.py, or a .py file): it scores every system's answers "
                    "against the references, in the metrics table above.")
        with gr.Row():
            path = gr.Textbox(label="Path or name", scale=4, elem_id="own-metric-path")
            add = gr.Button("Add", size="sm", scale=0, min_width=100, elem_id="own-metric-add")
            remove = gr.Button("Remove", size="sm", scale=0, min_width=100, elem_id="own-metric-remove")
        listing = gr.Markdown(elem_id="own-metric-list")

    def change(adding: bool):
        def handler(caller, selected, typed):
            if selected is None:
                return message("Pick a project first.", "error")
            try:
                if adding:
                    metric_modules.add_project_metric(store, selected, typed, caller.recorded_name(None))
                else:
                    metric_modules.remove_project_metric(store, selected, (typed or "").strip(),
                                                         caller.recorded_name(None))
            except (EvaluationError, StoreError) as error:
                return message(str(error), "error") + "\n\n" + _listing(selected)
            return message("Saved: press Refresh above to compute it." if adding else "Removed.", "ok") + "\n\n" + \
                _listing(store.get_project(selected.id))
        return handler

    add.click(guard("settings", change(True)), [project, path], listing, api_name="add_metric",
              concurrency_limit=1, concurrency_id="store-writes")
    remove.click(guard("settings", change(False)), [project, path], listing, api_name="remove_metric",
                 concurrency_limit=1, concurrency_id="store-writes")
    project.change(guard("results", lambda selected: _listing(selected), quiet=True), project, listing,
                   api_visibility="undocumented")
