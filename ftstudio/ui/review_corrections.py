"""The Review tab's correction panel: after a vote, edit the better answer (or write the right one when both were
bad) and save it as an accepted example of the project (ftstudio.evaluation.corrections).

Shown only after a vote, for the reviewer's own latest vote, whose systems the reveal has just named: it never
offers anything about a pair still waiting for a vote.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftstudio.evaluation import corrections
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.store import StoreError
from ftstudio.ui.format import escape, message


@dataclass
class CorrectionWidgets:
    panel: gr.Accordion
    caption: gr.Markdown
    text: gr.Textbox
    save: gr.Button
    notice: gr.Markdown
    rating: gr.State  # the rating the text corrects, kept on the server

    @property
    def outputs(self) -> list:
        return [self.panel, self.caption, self.text, self.notice, self.rating]


def correction_widgets() -> CorrectionWidgets:
    """The panel, hidden until the reviewer's first vote."""
    with gr.Accordion("Correct the answer you just voted on", open=False, visible=False,
                      elem_id="correction-panel") as panel:
        caption = gr.Markdown(elem_id="correction-caption")
        text = gr.Textbox(label="The right answer", lines=4, max_lines=20, elem_id="correction-text",
                          info="Saved as an accepted example of this project, marked as a correction; the next "
                               "dataset version includes it.")
        save = gr.Button("Save the correction as a training example", size="sm", elem_id="correction-save")
        notice = gr.Markdown(elem_id="correction-notice")
    return CorrectionWidgets(panel, caption, text, save, notice, gr.State(None))


class CorrectionHandlers:
    """`current_review(picked, run_value)` finds the review on screen (ReviewHandlers.current_review)."""

    def __init__(self, store, widgets: CorrectionWidgets, current_review):
        self.store, self.w, self.current_review = store, widgets, current_review

    def on_voted(self, caller, picked, run_value, reviewer):
        """After a vote: the answer to correct, from the reviewer's latest vote."""
        w = self.w
        try:
            start = corrections.last_vote(self.store, self.current_review(picked, run_value),
                                          caller.recorded_name(reviewer) or "")
        except (EvaluationError, StoreError):
            start = None
        if start is None:
            return {w.panel: gr.update(visible=False), w.caption: "", w.text: "", w.notice: "", w.rating: None}
        what = ("Both answers were bad: write the right one." if not start.answer else
                "Edit the better answer into the right one.")
        return {w.panel: gr.update(visible=True), w.caption: f"**Input:** {escape(start.input[:400])}\n\n{what}",
                w.text: start.answer, w.notice: "", w.rating: start.rating_id}

    def on_save(self, caller, picked, run_value, reviewer, rating_id, text):
        """Save the correction; without a rating on screen (an API call), the reviewer's latest vote."""
        try:
            reviewer = caller.recorded_name(reviewer) or ""
            if rating_id in (None, ""):
                start = corrections.last_vote(self.store, self.current_review(picked, run_value), reviewer)
                rating_id = start.rating_id if start else None
            saved = corrections.correct_answer(self.store, rating_id, reviewer, text)
        except (EvaluationError, StoreError) as error:
            return {self.w.notice: message(str(error), "error")}
        return {self.w.notice: message(f"Saved as accepted example {saved.example_id}, a correction of "
                                       f"{', '.join(saved.systems)}: the Label tab's history shows it, and the "
                                       "next dataset version includes it.", "ok")}
