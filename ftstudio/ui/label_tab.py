"""The Label tab: one item at a time from the annotator's queue, with keyboard shortcuts and model drafts."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ftstudio import labeling
from ftstudio.config import Settings
from ftstudio.generation import BaseModel
from ftstudio.labeling import LabelingError, Task
from ftstudio.store import Project, Store, StoreError
from ftstudio.ui.format import escape, message
from ftstudio.ui.handlers import Guard
from ftstudio.ui.distill_panel import create_distill_panel
from ftstudio.ui.label_history import create_label_history
from ftstudio.ui.team_queue import team_calls
from ftstudio.ui.label_drafts import DraftHandlers, DrafterWidgets, DraftWidgets, draft_widgets, drafter_widgets

HELP = ("**Keys:** 1-9 pick a label · **A** or Enter accept · **S** skip · **F** flag · **U** undo · "
        "Ctrl+Enter accepts while typing · Esc leaves a text field")
MODEL_STATUS = {"loading": "The base model is loading in the background (the first start converts it, about 30 s); "
                           "drafts work once it is ready.",
                "ready": "", "idle": ""}


def _agreement_frame(result: dict) -> pd.DataFrame:
    rows = [["overall", result["overall"]]] + [[label, value] for label, value in result["per_label"].items()]
    return pd.DataFrame([[name, "–" if v is None else f"{v:.2f}"] for name, v in rows], columns=["label", "kappa"])


def label_choices(project) -> list[tuple[str, str]]:
    """Radio choices showing the key that picks each label."""
    return [(f"{index} · {label}" if index <= 9 else label, label)
            for index, label in enumerate(project.labels or [], start=1)]


@dataclass
class LabelWidgets:
    """Everything on the Label tab that a handler reads or updates."""

    counter: gr.Markdown
    start: gr.Button
    raw: gr.Textbox
    input_box: gr.Textbox
    output_column: gr.Column
    output_box: gr.Textbox
    model_note: gr.Markdown
    label_choice: gr.Radio
    accept: gr.Button
    skip: gr.Button
    flag: gr.Button
    undo: gr.Button
    notice: gr.Markdown
    agreement_caption: gr.Markdown
    agreement_table: gr.Dataframe
    refresh_agreement: gr.Button
    overlap: gr.Number
    lease_minutes: gr.Number
    labels_text: gr.Textbox
    save_settings: gr.Button
    drafts: DraftWidgets
    drafter: DrafterWidgets
    item_id: gr.State
    leased_to: gr.State  # whose lease the item on screen is under, released if the name changes

    def item_outputs(self) -> list:
        """What showing an item updates; the first eleven are the API's order since the first release."""
        return [self.item_id, self.leased_to, self.raw, self.input_box, self.output_box, self.label_choice,
                self.counter, self.notice, self.drafts.input_draft, self.drafts.output_draft, self.drafts.draft_row,
                self.drafts.pending]


def label_layout() -> LabelWidgets:
    """Lay out the Label tab in the current Blocks context."""
    with gr.Column(elem_id="label-panel"):
        with gr.Row(equal_height=True):
            counter = gr.Markdown(elem_id="label-counter")
            start = gr.Button("Load next item", scale=0, min_width=160, size="sm", elem_id="label-start")
        raw = gr.Textbox(label="About this item", lines=3, max_lines=12, interactive=False, elem_id="label-raw")
        with gr.Row():
            with gr.Column():
                input_box = gr.Textbox(label="Input (the idea, question or email)", lines=5, max_lines=20,
                                       elem_id="label-input")
                draft_input = gr.Button("Draft the input from the output", size="sm", elem_id="draft-input")
            with gr.Column() as output_column:
                output_box = gr.Textbox(label="Output (what the model should write)", lines=5, max_lines=20,
                                        elem_id="label-output")
                draft_output = gr.Button("Draft the output", size="sm", elem_id="draft-output")
        weak_note = gr.Markdown(visible=False, elem_id="drafter-note")
        drafts = draft_widgets(draft_input, draft_output, weak_note)
        model_note = gr.Markdown(elem_id="model-status")
        label_choice = gr.Radio([], label="Label", visible=False, elem_id="label-choice")
        with gr.Row():
            accept = gr.Button("Accept (A)", variant="primary", elem_id="label-accept")
            skip = gr.Button("Skip (S)", elem_id="label-skip")
            flag = gr.Button("Flag (F)", elem_id="label-flag")
            undo = gr.Button("Undo (U)", elem_id="label-undo")
        notice = gr.Markdown(elem_id="label-notice")
        gr.Markdown(HELP)
        with gr.Accordion("Agreement between annotators", open=False):
            agreement_caption = gr.Markdown()
            agreement_table = gr.Dataframe(pd.DataFrame(columns=["label", "kappa"]), interactive=False)
            refresh_agreement = gr.Button("Compute agreement", size="sm")
        with gr.Accordion("Labeling settings for this project", open=False, elem_id="label-settings"):
            with gr.Row():
                overlap = gr.Number(value=1, precision=0, label="Annotators per item",
                                    info="Above 1, each item goes to that many people and agreement is measured.")
                lease_minutes = gr.Number(value=15, precision=0, label="Lease (minutes)",
                                          info="How long an item stays reserved for whoever opened it.")
                labels_text = gr.Textbox(label="Labels (classification)", info="Comma-separated, in key order 1-9.")
            save_settings = gr.Button("Save settings", size="sm")
        drafter = drafter_widgets()
    return LabelWidgets(counter, start, raw, input_box, output_column, output_box, model_note, label_choice, accept,
                        skip, flag, undo, notice, agreement_caption, agreement_table, refresh_agreement, overlap,
                        lease_minutes, labels_text, save_settings, drafts, drafter, gr.State(None), gr.State(None))


class LabelHandlers:
    """The Label tab's events: widget values in, one labeling call, named updates out."""

    def __init__(self, store: Store, base_model: BaseModel, widgets: LabelWidgets):
        self.store, self.base_model, self.w = store, base_model, widgets

    def counts_line(self, project: Project, user_name: str) -> str:
        counts = self.store.labeling_counts(project.id, user_name, labeling.overlap(project))
        return (f"Labeling **{escape(project.name)}** as **{escape(user_name)}** · **{counts['mine']}** done by you · "
                f"**{counts['done']}** of {counts['items']} items done · **{counts['left']}** left"
                + (f" · {counts['flagged']} flagged" if counts["flagged"] else ""))

    def show(self, project: Project, task: Task | None, user_name: str, note: str = "") -> dict:
        """The item on screen: its texts and label, the counter, and no draft from any earlier item."""
        w = self.w
        radio = {"visible": project.task_type == "classification", "choices": label_choices(project)}
        updates = {w.counter: self.counts_line(project, user_name), w.drafts.input_draft: None,
                   w.drafts.output_draft: None, w.drafts.pending: None, w.drafts.draft_row: gr.update(visible=False)}
        if task is None:
            return {**updates, w.item_id: None, w.leased_to: None, w.raw: "", w.input_box: "", w.output_box: "",
                    w.label_choice: gr.update(**radio, value=None),
                    w.notice: note or message("Nothing left for you in this project.", "ok")}
        return {**updates, w.item_id: task.item.id, w.leased_to: user_name, w.raw: labeling.item_context(task.item),
                w.input_box: task.input, w.output_box: task.output, w.drafts.output_draft: task.output_draft,
                w.label_choice: gr.update(**radio, value=task.label), w.notice: note}

    def cleared(self, note: str) -> dict:
        """Nothing on screen, with a note saying why."""
        w = self.w
        return {w.item_id: None, w.leased_to: None, w.raw: "", w.input_box: "", w.output_box: "", w.counter: "",
                w.notice: note, w.drafts.input_draft: None, w.drafts.output_draft: None, w.drafts.pending: None,
                w.drafts.draft_row: gr.update(visible=False)}

    def resolve(self, caller, project, typed_name) -> tuple[Project, str]:
        if project is None:
            raise LabelingError("Pick a project in the bar above first.")
        user_name = caller.recorded_name(typed_name)
        if not user_name:
            raise LabelingError("Type your name in \u201cYou are\u201d at the top first: it is recorded with every "
                                "label, and nothing is reserved for you until you do.")
        return project, user_name

    def release_previous(self, current, holder, user_name) -> None:
        """An item leased under another name (the box was changed) goes back to the queue."""
        if current is not None and holder and holder != user_name:
            self.store.release_lease(int(current), holder)

    def on_load_next(self, caller, project, user_name, current, holder):
        try:
            project, user_name = self.resolve(caller, project, user_name)
            self.release_previous(current, holder, user_name)
            return self.show(project, labeling.next_task(self.store, project, user_name), user_name)
        except (LabelingError, StoreError) as error:
            return self.cleared(message(str(error), "info"))

    def on_decide(self, status: str):
        def handler(caller, project, user_name, current, holder, input_text, output_text, label, in_draft,
                    out_draft):
            try:
                project, user_name = self.resolve(caller, project, user_name)
                self.release_previous(current, holder, user_name)
                if current is None or holder != user_name:
                    return self.show(project, labeling.next_task(self.store, project, user_name), user_name)
                labeling.decide(self.store, project, user_name, int(current), status, input_text, output_text, label,
                                in_draft, out_draft)
                return self.show(project, labeling.next_task(self.store, project, user_name), user_name,
                                 message(f"Saved as {status}.", "ok"))
            except (LabelingError, StoreError) as error:
                return {self.w.notice: message(str(error), "error")}
        return handler

    def on_undo(self, caller, project, user_name, current, holder):
        try:
            project, user_name = self.resolve(caller, project, user_name)
            self.release_previous(current, holder, user_name)
            task = labeling.undo(self.store, project, user_name)
            if task is None:
                return self.show(project, labeling.next_task(self.store, project, user_name), user_name,
                                 message("Nothing to undo yet.", "info"))
            return self.show(project, task, user_name, message("Undone: the item is back as you left it.", "ok"))
        except (LabelingError, StoreError) as error:
            return self.cleared(message(str(error), "error"))

    def model_status(self, caller):
        if self.base_model.status == "failed":
            return message(f"The base model could not load, so drafting is off: {self.base_model.load_error}", "error")
        text = MODEL_STATUS[self.base_model.status]
        return message(text, "info") if text else ""

    def on_agreement(self, caller, project):
        w = self.w
        if project is None:
            return {w.agreement_caption: "Pick a project first."}
        result = labeling.agreement(self.store, project)
        if not result["items"]:
            return {w.agreement_caption: "No item has labels from two or more annotators yet (set 'Annotators per "
                                         "item' above 1)."}
        method = "Cohen's kappa" if result["method"] == "cohen" else "Fleiss' kappa"
        return {w.agreement_caption: f"{method} over {result['items']} items labeled by "
                                     f"{escape(', '.join(result['annotators']))}.",
                w.agreement_table: _agreement_frame(result)}

    def on_save_settings(self, caller, project, k, minutes, labels_value):
        if project is None:
            return message("Pick a project first.", "error")
        labels = [label.strip() for label in (labels_value or "").split(",") if label.strip()] or None
        if not 1 <= int(k or 0) <= 10:
            return message("Annotators per item is a whole number from 1 to 10.", "error")
        if not 1 <= int(minutes or 0) <= 24 * 60:
            return message("The lease is a whole number of minutes, from 1 to 1440 (a day).", "error")
        try:
            self.store.update_project(project.id, labels=labels,
                                      settings={"overlap": int(k), "lease_seconds": int(minutes) * 60})
        except StoreError as error:
            return message(str(error), "error")
        return message("Settings saved.", "ok")


def project_updates(w: LabelWidgets, drafting: DraftHandlers, project: Project | None) -> dict:
    """The settings and widgets that follow the project picked in the bar above."""
    if project is None:
        return {w.label_choice: gr.update(visible=False)}
    is_classification = project.task_type == "classification"
    return {w.overlap: labeling.overlap(project), w.lease_minutes: labeling.lease_seconds(project) // 60,
            w.labels_text: ", ".join(project.labels or []),
            w.label_choice: gr.update(visible=is_classification, choices=label_choices(project), value=None),
            w.output_column: gr.update(visible=not is_classification),
            w.drafts.draft_input: gr.update(visible=not is_classification),
            **drafting.drafter_updates(project)}


def create_label_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, base_model: BaseModel,
                     project: gr.Dropdown, user: gr.Textbox, settings: Settings | None = None) -> LabelWidgets:
    """Build the Label tab inside `tab`; `project` and `user` are the bar above the tabs."""
    w = label_layout()
    create_distill_panel(store, guard, settings or base_model.settings, project, tab)
    handlers = LabelHandlers(store, base_model, w)
    drafting = DraftHandlers(store, settings or base_model.settings, base_model, w.input_box, w.output_box,
                             w.notice, w.drafts, w.drafter)
    d, hidden = w.drafts, {"api_visibility": "undocumented"}
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    team = team_calls()  # next item, accept, skip, flag, undo: side by side, many people at once
    next_inputs = [project, user, w.item_id, w.leased_to]
    decision_inputs = [*next_inputs, w.input_box, w.output_box, w.label_choice, d.input_draft, d.output_draft]
    w.start.click(guard("label", handlers.on_load_next), next_inputs, w.item_outputs(), api_name="next_item",
                  **team)
    for button, status, name in ((w.accept, "accepted", "accept"), (w.skip, "skipped", "skip"),
                                 (w.flag, "flagged", "flag")):
        button.click(guard("label", handlers.on_decide(status)), decision_inputs, w.item_outputs(), api_name=name,
                     **team)
    w.undo.click(guard("label", handlers.on_undo), next_inputs, w.item_outputs(), api_name="undo", **team)
    arrived_outputs = [w.input_box, w.output_box, d.input_draft, d.output_draft, d.draft_box, d.draft_row, d.pending,
                       w.notice]
    for button, direction in ((d.draft_input, "input"), (d.draft_output, "output")):
        # The draft goes to a State with its item; the next step, reading the item on screen *now*, places it.
        button.click(guard("label", drafting.on_draft(direction)), [project, w.item_id, w.input_box, w.output_box],
                     [d.pending, w.notice], api_name=f"draft_{direction}").then(
            guard("label", drafting.on_draft_arrived, project=False), [w.item_id, d.pending, w.input_box,
                                                                        w.output_box], arrived_outputs, **hidden)
    d.use_draft.click(guard("label", drafting.on_use_draft, project=False), [w.item_id, d.pending],
                      [w.input_box, w.output_box, d.draft_row, d.pending], **hidden)
    w.refresh_agreement.click(guard("label", handlers.on_agreement), project,
                              [w.agreement_caption, w.agreement_table], api_name="agreement")
    w.save_settings.click(guard("settings", handlers.on_save_settings),
                          [project, w.overlap, w.lease_minutes, w.labels_text], w.notice, **writes, **hidden)
    r = w.drafter
    r.kind.change(guard("view", drafting.on_kind, project=False), r.kind, [r.run, r.url, r.model, r.hub], **hidden)
    r.save.click(guard("settings", drafting.on_save_drafter), [project, r.kind, r.run, r.url, r.model, r.hub],
                 [w.notice, d.weak_note], **writes, **hidden)
    project_outputs = [w.overlap, w.lease_minutes, w.labels_text, w.label_choice, w.output_column, d.draft_input,
                       r.kind, r.run, r.url, r.model, r.hub, d.weak_note]
    on_project = guard("view", lambda caller, selected: project_updates(w, drafting, selected))
    project.change(on_project, project, project_outputs, **hidden)
    app.load(on_project, project, project_outputs, **hidden)
    # Opening the tab puts the next item in front of the annotator, once they have said who they are.
    tab.select(guard("label", handlers.on_load_next), next_inputs, w.item_outputs(), **hidden).then(
        guard("view", handlers.model_status, project=False), None, w.model_note, **hidden)
    create_label_history(tab, store, guard, project)
    return w
