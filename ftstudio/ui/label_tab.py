"""The Label tab: one item at a time from the annotator's queue, with keyboard shortcuts and model drafts."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftstudio import labeling
from ftstudio.generation import BaseModel
from ftstudio.labeling import LabelingError
from ftstudio.models import ModelError
from ftstudio.remote import KEY_VARIABLES, RemoteModel, RemoteModelError
from ftstudio.store import Store, StoreError
from ftstudio.ui.format import escape, message
from ftstudio.ui.handlers import Guard

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


def create_label_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, base_model: BaseModel,
                     project: gr.Dropdown, user: gr.Textbox) -> None:
    """Build the Label tab inside `tab`; `project` and `user` are the bar above the tabs."""
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
        with gr.Row(visible=False, elem_id="draft-row") as draft_row:
            draft_box = gr.Textbox(label="Model draft (nothing you typed was changed)", lines=3, interactive=False,
                                   scale=4, elem_id="draft-text")
            use_draft = gr.Button("Use this draft", size="sm", scale=1, elem_id="use-draft")
        model_note = gr.Markdown(elem_id="model-status")
        label_choice = gr.Radio([], label="Label", visible=False, elem_id="label-choice")
        with gr.Row():
            accept = gr.Button("Accept (A)", variant="primary", elem_id="label-accept")
            skip = gr.Button("Skip (S)", elem_id="label-skip")
            flag = gr.Button("Flag (F)", elem_id="label-flag")
            undo_button = gr.Button("Undo (U)", elem_id="label-undo")
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
        with gr.Accordion("Drafting model", open=False, elem_id="drafting-model"):
            gr.Markdown("Drafts come from the studio's base model, or from any OpenAI-compatible endpoint (a hosted "
                        "API, or vLLM, llama.cpp or Ollama on your machines) as a stronger teacher. Its API key is "
                        f"read from {' or '.join(KEY_VARIABLES)} and never shown or stored.")
            with gr.Row():
                drafter = gr.Radio(["base model", "OpenAI-compatible endpoint"], value="base model",
                                   label="Draft with", elem_id="drafter")
                drafter_url = gr.Textbox(label="Base URL", placeholder="http://localhost:8000/v1", max_lines=1,
                                         elem_id="drafter-url")
                drafter_model = gr.Textbox(label="Model name", placeholder="gpt-4o-mini", max_lines=1,
                                           elem_id="drafter-model")
            save_drafter = gr.Button("Save the drafting model", size="sm", elem_id="save-drafter")
    item_id = gr.State(None)
    leased_to = gr.State(None)  # whose lease the item on screen is under, released if the name changes
    input_draft = gr.State(None)
    output_draft = gr.State(None)
    draft_target = gr.State(None)

    # --- handlers ---

    def counts_line(selected, user_name):
        counts = store.labeling_counts(selected.id, user_name, labeling.overlap(selected))
        return (f"Labeling **{escape(selected.name)}** as **{escape(user_name)}** · **{counts['mine']}** done by you · "
                f"**{counts['done']}** of {counts['items']} items done · **{counts['left']}** left"
                + (f" · {counts['flagged']} flagged" if counts["flagged"] else ""))

    def show(selected, task, user_name, note=""):
        radio = {"visible": selected.task_type == "classification", "choices": label_choices(selected)}
        count_text = counts_line(selected, user_name)
        if task is None:
            return (None, None, "", "", "", gr.update(**radio, value=None), count_text,
                    note or message("Nothing left for you in this project.", "ok"), None, None, gr.update(visible=False))
        return (task.item.id, user_name, labeling.item_context(task.item), task.input, task.output,
                gr.update(**radio, value=task.label), count_text, note, None, None, gr.update(visible=False))

    def resolve(caller, selected, typed_name):
        if selected is None:
            raise LabelingError("Pick a project in the bar above first.")
        user_name = caller.recorded_name(typed_name)
        if not user_name:
            raise LabelingError("Type your name in \u201cYou are\u201d at the top first: it is recorded with every "
                                "label, and nothing is reserved for you until you do.")
        return selected, user_name

    def release_previous(current, holder, user_name):
        """An item leased under another name (the box was changed) goes back to the queue."""
        if current is not None and holder and holder != user_name:
            store.release_lease(int(current), holder)

    blank = (None, None, "", "", "", gr.update(), "", "", None, None, gr.update(visible=False))

    def on_load_next(caller, selected, user_name, current, holder):
        try:
            selected, user_name = resolve(caller, selected, user_name)
            release_previous(current, holder, user_name)
            return show(selected, labeling.next_task(store, selected, user_name), user_name)
        except (LabelingError, StoreError) as error:
            return blank[:7] + (message(str(error), "info"),) + blank[8:]

    def on_decide(status):
        def handler(caller, selected, user_name, current, holder, input_text, output_text, label, in_draft,
                    out_draft):
            try:
                selected, user_name = resolve(caller, selected, user_name)
                release_previous(current, holder, user_name)
                if current is None or holder != user_name:
                    return show(selected, labeling.next_task(store, selected, user_name), user_name)
                labeling.decide(store, selected, user_name, int(current), status, input_text, output_text, label,
                                in_draft, out_draft)
                return show(selected, labeling.next_task(store, selected, user_name), user_name,
                            message(f"Saved as {status}.", "ok"))
            except (LabelingError, StoreError) as error:
                return (gr.update(),) * 7 + (message(str(error), "error"),) + (gr.update(),) * 3
        return handler

    def on_undo(caller, selected, user_name, current, holder):
        try:
            selected, user_name = resolve(caller, selected, user_name)
            release_previous(current, holder, user_name)
            task = labeling.undo(store, selected, user_name)
            if task is None:
                return show(selected, labeling.next_task(store, selected, user_name), user_name,
                            message("Nothing to undo yet.", "info"))
            return show(selected, task, user_name, message("Undone: the item is back as you left it.", "ok"))
        except (LabelingError, StoreError) as error:
            return blank[:7] + (message(str(error), "error"),) + blank[8:]

    def model_status(caller):
        if base_model.status == "failed":
            return message(f"The base model could not load, so drafting is off: {base_model.load_error}", "error")
        return message(MODEL_STATUS[base_model.status], "info") if MODEL_STATUS[base_model.status] else ""

    def drafting_model(selected):
        """The project's teacher endpoint when one is set, else the studio's base model."""
        remote = (selected.settings.get("drafting") or {}) if selected else {}
        if remote.get("base_url"):
            return RemoteModel(remote["base_url"], remote.get("model", "")).generate
        return base_model.generate

    def on_draft(direction):
        def handler(caller, selected, input_text, output_text):
            try:
                examples = labeling.accepted_examples(store, selected) if selected else []
                generate = drafting_model(selected)
                if direction == "input":
                    draft = labeling.draft_input(generate, output_text or "", examples)
                    target, current = "input", input_text
                else:
                    draft = labeling.draft_output(generate, input_text or "", examples)
                    target, current = "output", output_text
            except (LabelingError, ModelError, RemoteModelError) as error:
                return (gr.update(),) * 5 + (gr.update(), message(str(error), "error"))
            drafts = (draft, gr.update()) if target == "input" else (gr.update(), draft)
            if (current or "").strip():  # never overwrite what the user or the data put there: offer the draft
                return gr.update(), gr.update(), *drafts, target, gr.update(visible=True), ""
            boxes = (draft, gr.update()) if target == "input" else (gr.update(), draft)
            return (*boxes, *drafts, None, gr.update(visible=False), "")
        return handler

    def draft_shown(caller, in_draft, out_draft, target):
        return (in_draft if target == "input" else out_draft) or ""

    def on_use_draft(caller, target, in_draft, out_draft):
        if target == "input":
            return in_draft or gr.update(), gr.update(), gr.update(visible=False)
        if target == "output":
            return gr.update(), out_draft or gr.update(), gr.update(visible=False)
        return gr.update(), gr.update(), gr.update(visible=False)

    def on_agreement(caller, selected):
        if selected is None:
            return "Pick a project first.", gr.update()
        result = labeling.agreement(store, selected)
        if not result["items"]:
            return "No item has labels from two or more annotators yet (set 'Annotators per item' above 1).", gr.update()
        method = "Cohen's kappa" if result["method"] == "cohen" else "Fleiss' kappa"
        return (f"{method} over {result['items']} items labeled by {escape(', '.join(result['annotators']))}.",
                _agreement_frame(result))

    def on_project(caller, selected):
        if selected is None:
            return (gr.update(), gr.update(), gr.update(), gr.update(visible=False), gr.update(), gr.update(),
                    gr.update(), gr.update(), gr.update())
        is_classification = selected.task_type == "classification"
        remote = selected.settings.get("drafting") or {}
        return (labeling.overlap(selected), labeling.lease_seconds(selected) // 60, ", ".join(selected.labels or []),
                gr.update(visible=is_classification, choices=label_choices(selected), value=None),
                gr.update(visible=not is_classification), gr.update(visible=not is_classification),
                "OpenAI-compatible endpoint" if remote.get("base_url") else "base model", remote.get("base_url", ""),
                remote.get("model", ""))

    def on_save_drafter(caller, selected, choice, url, model_name):
        if selected is None:
            return message("Pick a project first.", "error")
        if choice == "base model":
            store.update_project(selected.id, settings={"drafting": {}})
            return message("Drafts come from the studio's base model.", "ok")
        try:
            remote = RemoteModel(url or "", model_name or "")
        except RemoteModelError as error:
            return message(str(error), "error")
        store.update_project(selected.id, settings={"drafting": {"base_url": remote.base_url, "model": remote.model}})
        return message(f"Drafts come from {remote.model} at {remote.base_url}.", "ok")

    def on_save_settings(caller, selected, k, minutes, labels_value):
        if selected is None:
            return message("Pick a project first.", "error")
        labels = [label.strip() for label in (labels_value or "").split(",") if label.strip()] or None
        if not 1 <= int(k or 0) <= 10:
            return message("Annotators per item is a whole number from 1 to 10.", "error")
        if not 1 <= int(minutes or 0) <= 24 * 60:
            return message("The lease is a whole number of minutes, from 1 to 1440 (a day).", "error")
        try:
            store.update_project(selected.id, labels=labels,
                                 settings={"overlap": int(k), "lease_seconds": int(minutes) * 60})
        except StoreError as error:
            return message(str(error), "error")
        return message("Settings saved.", "ok")

    item_outputs = [item_id, leased_to, raw, input_box, output_box, label_choice, counter, notice, input_draft,
                    output_draft, draft_row]
    next_inputs = [project, user, item_id, leased_to]
    decision_inputs = [project, user, item_id, leased_to, input_box, output_box, label_choice, input_draft,
                       output_draft]
    hidden = {"api_visibility": "undocumented"}
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    start.click(guard("label", on_load_next), next_inputs, item_outputs, api_name="next_item", **writes)
    accept.click(guard("label", on_decide("accepted")), decision_inputs, item_outputs, api_name="accept", **writes)
    skip.click(guard("label", on_decide("skipped")), decision_inputs, item_outputs, api_name="skip", **writes)
    flag.click(guard("label", on_decide("flagged")), decision_inputs, item_outputs, api_name="flag", **writes)
    undo_button.click(guard("label", on_undo), next_inputs, item_outputs, api_name="undo", **writes)
    draft_outputs = [input_box, output_box, input_draft, output_draft, draft_target, draft_row, notice]
    for button, direction in ((draft_input, "input"), (draft_output, "output")):
        button.click(guard("label", on_draft(direction)), [project, input_box, output_box], draft_outputs,
                     api_name=f"draft_{direction}").then(guard("label", draft_shown, project=False),
                                                         [input_draft, output_draft, draft_target], draft_box,
                                                         **hidden)
    use_draft.click(guard("label", on_use_draft, project=False), [draft_target, input_draft, output_draft],
                    [input_box, output_box, draft_row], **hidden)
    refresh_agreement.click(guard("label", on_agreement), project, [agreement_caption, agreement_table],
                            api_name="agreement")
    save_settings.click(guard("settings", on_save_settings), [project, overlap, lease_minutes, labels_text], notice,
                        **writes, **hidden)
    save_drafter.click(guard("settings", on_save_drafter), [project, drafter, drafter_url, drafter_model], notice,
                       **writes, **hidden)
    project_outputs = [overlap, lease_minutes, labels_text, label_choice, output_column, draft_input, drafter,
                       drafter_url, drafter_model]
    project.change(guard("view", on_project), project, project_outputs, **hidden)
    app.load(guard("view", on_project), project, project_outputs, **hidden)
    # Opening the tab puts the next item in front of the annotator, once they have said who they are.
    tab.select(guard("label", on_load_next), next_inputs, item_outputs, **hidden).then(
        guard("view", model_status, project=False), None, model_note, **hidden)
