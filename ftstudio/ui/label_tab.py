"""The Label tab: one item at a time from the annotator's queue, with keyboard shortcuts and model drafts."""

from __future__ import annotations

import secrets

import gradio as gr
import pandas as pd

from ftstudio import labeling
from ftstudio.generation import BaseModel
from ftstudio.labeling import LabelingError
from ftstudio.models import ModelError
from ftstudio.store import Store, StoreError
from ftstudio.ui.format import message

# Keyboard shortcuts, installed once in the page head. Digits pick a label; single keys act only
# when the focus is not in a text field, so typing an input never triggers them; Ctrl+Enter always accepts.
SHORTCUTS_JS = """
<script>
document.addEventListener('keydown', (event) => {
  const panel = document.querySelector('#label-panel');
  if (!panel || panel.offsetParent === null) return;
  const press = (id) => { const b = document.getElementById(id); if (b) { event.preventDefault(); b.click(); } };
  if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') return press('label-accept');
  const target = event.target;
  const typing = target && (target.tagName === 'TEXTAREA' || (target.tagName === 'INPUT' && target.type !== 'radio'));
  if (typing) { if (event.key === 'Escape') target.blur(); return; }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key >= '1' && event.key <= '9') {
    const choices = document.querySelectorAll('#label-choice input[type=radio]');
    const choice = choices[Number(event.key) - 1];
    if (choice) { event.preventDefault(); choice.click(); }
    return;
  }
  const actions = {a: 'label-accept', Enter: 'label-accept', s: 'label-skip', f: 'label-flag', u: 'label-undo'};
  if (actions[event.key]) press(actions[event.key]);
});
</script>
"""

HELP = ("**Keys:** 1-9 pick a label · **A** or Enter accept · **S** skip · **F** flag · **U** undo · "
        "Ctrl+Enter accepts while typing · Esc leaves a text field")


def _agreement_frame(result: dict) -> pd.DataFrame:
    rows = [["overall", result["overall"]]] + [[label, value] for label, value in result["per_label"].items()]
    return pd.DataFrame([[name, "–" if v is None else f"{v:.2f}"] for name, v in rows], columns=["label", "kappa"])


def label_choices(project) -> list[tuple[str, str]]:
    """Radio choices showing the key that picks each label."""
    return [(f"{index} · {label}" if index <= 9 else label, label)
            for index, label in enumerate(project.labels or [], start=1)]


def create_label_tab(app: gr.Blocks, tab: gr.Tab, store: Store, base_model: BaseModel, project: gr.Dropdown) -> None:
    """Build the Label tab inside `tab`; `project` is the project picker shared by all tabs."""
    annotator_memory = gr.BrowserState("", storage_key="ftstudio-annotator")
    with gr.Column(elem_id="label-panel"):
        with gr.Row(equal_height=True):
            annotator = gr.Textbox(label="You are", max_lines=1, scale=2, elem_id="annotator",
                                   info="Your name, recorded with every example (remembered in this browser).")
            counter = gr.Markdown(elem_id="label-counter")
            start = gr.Button("Load next item", scale=1, size="sm", elem_id="label-start")
        raw = gr.Textbox(label="Item", lines=8, max_lines=16, interactive=False, elem_id="label-raw")
        with gr.Row():
            with gr.Column():
                input_box = gr.Textbox(label="Input (the idea, question or email)", lines=4, elem_id="label-input")
                draft_input = gr.Button("Draft the input from the output", size="sm", elem_id="draft-input")
            with gr.Column() as output_column:
                output_box = gr.Textbox(label="Output (what the model should write)", lines=4, elem_id="label-output")
                draft_output = gr.Button("Draft the output", size="sm", elem_id="draft-output")
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
        with gr.Accordion("Labeling settings for this project", open=False):
            with gr.Row():
                overlap = gr.Number(value=1, precision=0, minimum=1, maximum=10, label="Annotators per item",
                                    info="Above 1, each item goes to that many people and agreement is measured.")
                lease_minutes = gr.Number(value=15, precision=0, minimum=1, label="Lease (minutes)",
                                          info="How long an item stays reserved for whoever opened it.")
                labels_text = gr.Textbox(label="Labels (classification)", info="Comma-separated, in key order 1-9.")
            save_settings = gr.Button("Save settings", size="sm")
    item_id = gr.State(None)
    input_draft = gr.State(None)
    output_draft = gr.State(None)

    # --- handlers ---

    def show(selected, task, user, note=""):
        layout = layout_for(selected)
        counts = store.labeling_counts(selected.id, user, labeling.overlap(selected))
        count_text = (f"**{counts['mine']}** done by you · **{counts['done']}** of {counts['items']} items done · "
                      f"**{counts['left']}** left" + (f" · {counts['flagged']} flagged" if counts["flagged"] else ""))
        if task is None:
            return (None, "", "", "", gr.update(**layout["radio"], value=None), count_text,
                    note or message("Nothing left for you in this project.", "ok"), None, None)
        return (task.item.id, task.item.text, task.input, task.output, gr.update(**layout["radio"], value=task.label),
                count_text, note, None, None)

    def layout_for(selected):
        is_classification = selected.task_type == "classification"
        return {"radio": {"visible": is_classification, "choices": label_choices(selected)}}

    def resolve(project_name, user):
        if not (user or "").strip():
            raise LabelingError("Type your name in 'You are' first.")
        selected = store.find_project(project_name) if project_name else None
        if selected is None:
            raise LabelingError("Pick a project on the Data tab first.")
        return selected, user.strip()

    blank = (None, "", "", "", gr.update(), "", "", None, None)

    def on_load_next(project_name, user):
        try:
            selected, user = resolve(project_name, user)
            return show(selected, labeling.next_task(store, selected, user), user)
        except (LabelingError, StoreError) as error:
            return blank[:6] + (message(str(error), "error"),) + blank[7:]

    def on_decide(status):
        def handler(project_name, user, current, input_text, output_text, label, in_draft, out_draft):
            try:
                selected, user = resolve(project_name, user)
                if current is None:
                    return show(selected, labeling.next_task(store, selected, user), user)
                labeling.decide(store, selected, user, int(current), status, input_text, output_text, label,
                                in_draft, out_draft)
                return show(selected, labeling.next_task(store, selected, user), user, message(f"Saved as {status}.", "ok"))
            except (LabelingError, StoreError) as error:
                return (gr.update(),) * 4 + (gr.update(), gr.update(), message(str(error), "error"),
                                              gr.update(), gr.update())
        return handler

    def on_undo(project_name, user):
        try:
            selected, user = resolve(project_name, user)
            task = labeling.undo(store, selected, user)
            if task is None:
                return show(selected, labeling.next_task(store, selected, user), user,
                            message("Nothing to undo yet.", "info"))
            return show(selected, task, user, message("Undone: the item is back in front of you.", "ok"))
        except (LabelingError, StoreError) as error:
            return blank[:6] + (message(str(error), "error"),) + blank[7:]

    def on_draft(direction):
        def handler(input_text, output_text):
            try:
                if direction == "input":
                    draft = labeling.draft_input(base_model.generate, output_text or "")
                    return draft, gr.update(), draft, gr.update(), ""
                draft = labeling.draft_output(base_model.generate, input_text or "")
                return gr.update(), draft, gr.update(), draft, ""
            except (LabelingError, ModelError) as error:
                return gr.update(), gr.update(), gr.update(), gr.update(), message(str(error), "error")
        return handler

    def on_agreement(project_name):
        selected = store.find_project(project_name) if project_name else None
        if selected is None:
            return "Pick a project first.", gr.update()
        result = labeling.agreement(store, selected)
        if not result["items"]:
            return "No item has labels from two or more annotators yet (set 'Annotators per item' above 1).", gr.update()
        method = "Cohen's kappa" if result["method"] == "cohen" else "Fleiss' kappa"
        return (f"{method} over {result['items']} items labeled by {', '.join(result['annotators'])}.",
                _agreement_frame(result))

    def on_project(project_name):
        selected = store.find_project(project_name) if project_name else None
        if selected is None:
            return gr.update(), gr.update(), gr.update(), gr.update(visible=False), gr.update(), gr.update()
        is_classification = selected.task_type == "classification"
        return (labeling.overlap(selected), labeling.lease_seconds(selected) // 60, ", ".join(selected.labels or []),
                gr.update(visible=is_classification, choices=label_choices(selected), value=None),
                gr.update(visible=not is_classification), gr.update(visible=not is_classification))

    def on_save_settings(project_name, k, minutes, labels_value):
        selected = store.find_project(project_name) if project_name else None
        if selected is None:
            return message("Pick a project first.", "error")
        labels = [label.strip() for label in (labels_value or "").split(",") if label.strip()] or None
        store.update_project(selected.id, labels=labels,
                             settings={"overlap": int(k or 1), "lease_seconds": int(minutes or 15) * 60})
        return message("Settings saved.", "ok")

    def remember(name):
        return name

    def recall(name):
        return name or f"guest-{secrets.token_hex(2)}"

    item_outputs = [item_id, raw, input_box, output_box, label_choice, counter, notice, input_draft, output_draft]
    decision_inputs = [project, annotator, item_id, input_box, output_box, label_choice, input_draft, output_draft]
    hidden = {"api_visibility": "undocumented"}
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    start.click(on_load_next, [project, annotator], item_outputs, api_name="next_item", **writes)
    accept.click(on_decide("accepted"), decision_inputs, item_outputs, api_name="accept", **writes)
    skip.click(on_decide("skipped"), decision_inputs, item_outputs, api_name="skip", **writes)
    flag.click(on_decide("flagged"), decision_inputs, item_outputs, api_name="flag", **writes)
    undo_button.click(on_undo, [project, annotator], item_outputs, api_name="undo", **writes)
    draft_input.click(on_draft("input"), [input_box, output_box], [input_box, output_box, input_draft, output_draft, notice],
                      api_name="draft_input")
    draft_output.click(on_draft("output"), [input_box, output_box],
                       [input_box, output_box, input_draft, output_draft, notice], api_name="draft_output")
    refresh_agreement.click(on_agreement, project, [agreement_caption, agreement_table], api_name="agreement")
    save_settings.click(on_save_settings, [project, overlap, lease_minutes, labels_text], notice, **writes, **hidden)
    project.change(on_project, project, [overlap, lease_minutes, labels_text, label_choice, output_column, draft_input], **hidden)
    annotator.change(remember, annotator, annotator_memory, **hidden)
    app.load(recall, annotator_memory, annotator, **hidden).then(
        on_project, project, [overlap, lease_minutes, labels_text, label_choice, output_column, draft_input], **hidden)
    # Opening the tab puts the next item in front of the annotator straight away.
    tab.select(on_load_next, [project, annotator], item_outputs, **hidden)
