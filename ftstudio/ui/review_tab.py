"""The Review tab: generate the answers to compare, vote on blind pairs with the keyboard, browse them openly.

The token of the pair on screen lives in gr.State, on the server: the browser gets the input and two answers
labeled A and B, nothing that names a system, until the vote is in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import gradio as gr

from ftstudio.config import Settings
from ftstudio.evaluation import report
from ftstudio.evaluation.compare import default_systems
from ftstudio.evaluation.contestants import contestant_choices
from ftstudio.evaluation.review import system_labels
from ftstudio.evaluation.generations import DecodingSettings
from ftstudio.evaluation.systems import BASE, BASE_LABEL, REFERENCE, REFERENCE_LABEL, EvaluationError, run_label
from ftstudio.store import Store
from ftstudio.ui.format import escape
from ftstudio.ui.handlers import Guard
from ftstudio.ui.review_corrections import CorrectionHandlers, CorrectionWidgets, correction_widgets
from ftstudio.ui.systems_panel import create_systems_panel
from ftstudio.ui.review_handlers import ReviewHandlers
from ftstudio.ui.team_queue import team_calls
from ftstudio.wording import plural

# (what the reviewer reads, the split asked for); "prompts" is typed or uploaded.
SOURCES = [("test split", "test"), ("validation split", "validation"),
           ("train split (answers to vote on for preference data)", "train"), ("my prompts", "prompts")]
VOTE_HELP = "**Keys:** **A** or **B** picks the better answer · **T** tie · **X** both bad · Esc leaves a text field"


class GenerationCancels:
    """One cancel flag per browser session, so Cancel stops that session's generation and no one else's."""

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        with self._lock:
            self._flags[session] = flag = threading.Event()
            return flag

    def cancel(self, session: str) -> bool:
        with self._lock:
            flag = self._flags.get(session)
        if flag is None:
            return False
        flag.set()
        return True

    def finish(self, session: str) -> None:
        with self._lock:
            self._flags.pop(session, None)


def project_runs(store: Store, project):
    """The project picked in the bar (looked up by the handler guard), and its runs (finished or not)."""
    return project, store.list_runs(project.id) if project else []


def run_choices(runs) -> list[tuple[str, str]]:
    return [(run_label(r), str(r.id)) for r in runs if r.status == "finished"]


def system_choices(store: Store, runs, selected: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    """Every system the run can be compared with, and the default: the DPO loop for a DPO run, else run vs base."""
    finished = [r for r in runs if r.status == "finished"]
    choices = [(run_label(r), r.system) for r in finished] + [(BASE_LABEL, BASE), (REFERENCE_LABEL, REFERENCE)]
    choices += contestant_choices(store)
    run = next((r for r in finished if str(r.id) == str(selected)), None)
    try:
        default = default_systems(store, run) if run is not None else []
    except EvaluationError:  # a run folder gone missing: offer the run against the base model
        default = [run.system, BASE]
    return choices, default


def win_rate_line(store: Store, review) -> str:
    """Every pair of systems' figures so far, shown once the reviewer's queue is done (never between pairs: a
    running tally by name would sway the next vote)."""
    verdicts = report.human_verdicts(store, review, with_bradley_terry=False)
    entries = [entry for entry in verdicts.human.values() if entry.votes]
    if not entries:
        return "No votes yet."
    labels = system_labels(store, review)
    purpose = " on prompts the run trained on: preference data, not a grade" if review.split == "train" else ""
    lines = [f"**So far** ({plural(verdicts.votes, 'vote')}{purpose}):"]
    for entry in entries:
        rate = "–" if entry.win_rate is None else (f"{entry.win_rate:.0%} (95% interval {entry.ci_low:.0%}–"
                                                   f"{entry.ci_high:.0%})")
        lines.append(f"- {escape(labels[entry.system])} wins {rate} of decisive votes against "
                     f"{_named(labels[entry.against])} · {plural(entry.ties, 'tie')} · "
                     f"{entry.both_bad} both bad.")
    return "\n".join(lines)


def _named(label: str) -> str:
    """'run 1 (...)' as is, 'the base model' with its article."""
    return escape(label if label.startswith("run ") else f"the {label}")


@dataclass
class ReviewWidgets:
    """The Review tab's widgets, as the layout made them."""

    run_pick: gr.Dropdown
    systems: gr.CheckboxGroup
    source: gr.Radio
    prompts_text: gr.Textbox
    prompts_file: gr.File
    decoding: dict  # DecodingSettings field -> its Number
    overlap: gr.Number
    generate_button: gr.Button
    cancel_button: gr.Button
    generate_notice: gr.Markdown
    counter: gr.Markdown
    start: gr.Button
    input_box: gr.Textbox
    reference: gr.Textbox
    answer_a: gr.Textbox
    answer_b: gr.Textbox
    score_a: gr.Radio
    score_b: gr.Radio
    comment: gr.Textbox
    votes: dict  # choice -> its button
    reveal: gr.Markdown
    live: gr.Markdown
    token: gr.State
    browse_number: gr.Number
    browse_first: gr.Dropdown
    browse_second: gr.Dropdown
    browse_button: gr.Button
    browse_input: gr.Textbox
    browse_left: gr.Textbox
    browse_right: gr.Textbox
    browse_diff: gr.HighlightedText
    correction: CorrectionWidgets

    @property
    def pair_outputs(self) -> list:
        return [self.token, self.input_box, self.reference, self.answer_a, self.answer_b, self.score_a, self.score_b,
                self.comment, self.counter, self.reveal, self.live]


def _decoding_number(name: str, value, label: str, **extra) -> gr.Number:
    return gr.Number(value, label=label, info=DecodingSettings.__dataclass_fields__[name].metadata["help"], **extra)


def review_layout() -> ReviewWidgets:
    """Lay out the tab: what to compare, the blind pair and its vote buttons, the open side-by-side view."""
    defaults = DecodingSettings()
    gr.Markdown("### 1 · Answers to compare")
    with gr.Row():
        run_pick = gr.Dropdown([], label="Run under review", info="A finished run; its test split and template.",
                               elem_id="review-run", scale=2, allow_custom_value=True)
        systems = gr.CheckboxGroup([], label="Systems to compare", elem_id="review-systems", scale=3,
                                   info="The run against the base model it started from (a DPO run: against its "
                                        "start run too); add other runs or the reference answers from the data.")
    with gr.Row(elem_id="review-inputs-row"):
        source = gr.Radio(SOURCES, value="test", label="Inputs", scale=1, elem_id="review-source")
        prompts_text = gr.Textbox(label="Your prompts", lines=3, visible=False, scale=2, elem_id="review-prompts",
                                  placeholder="One per line, or longer ones separated by a line holding ---")
        prompts_file = gr.File(label="…or a file (.txt, .md, .jsonl, .csv)", visible=False, scale=1,
                               file_types=[".txt", ".md", ".jsonl", ".csv"])
    with gr.Accordion("Decoding settings", open=False, elem_id="review-decoding"):
        with gr.Row():
            decoding = {"max_new_tokens": _decoding_number("max_new_tokens", defaults.max_new_tokens,
                                                           "max new tokens", precision=0),
                        "temperature": _decoding_number("temperature", defaults.temperature, "temperature"),
                        "top_p": _decoding_number("top_p", defaults.top_p, "top-p"),
                        "seed": _decoding_number("seed", defaults.seed, "seed", precision=0)}
            overlap = gr.Number(1, precision=0, label="reviewers per pair",
                                info="Above 1, each pair goes to that many people and their agreement is shown.")
    with gr.Row(elem_id="review-generate-row"):
        generate_button = gr.Button("Generate answers", variant="primary", elem_id="generate-answers")
        cancel_button = gr.Button("Cancel", elem_id="generate-cancel")
    generate_notice = gr.Markdown(elem_id="generate-notice")

    gr.Markdown("### 2 · Blind review")
    with gr.Column(elem_id="review-panel"):
        with gr.Row(equal_height=True):
            counter = gr.Markdown(elem_id="review-counter")
            start = gr.Button("Start reviewing", size="sm", scale=0, min_width=160, elem_id="review-start")
        input_box = gr.Textbox(label="Input", interactive=False, lines=3, max_lines=12, elem_id="review-input")
        reference = gr.Textbox(label="Reference (the data's own answer, for context)", interactive=False, lines=2,
                               max_lines=8, visible=False, elem_id="review-reference")
        with gr.Row(equal_height=True):
            answer_a = gr.Textbox(label="Answer A", interactive=False, lines=6, max_lines=20, elem_id="answer-a",
                                  placeholder="")
            answer_b = gr.Textbox(label="Answer B", interactive=False, lines=6, max_lines=20, elem_id="answer-b",
                                  placeholder="")
        with gr.Row():
            score_a = gr.Radio(["1", "2", "3", "4", "5"], label="Score A (optional, 5 best)", elem_id="score-a")
            score_b = gr.Radio(["1", "2", "3", "4", "5"], label="Score B (optional, 5 best)", elem_id="score-b")
            comment = gr.Textbox(label="Comment (optional)", max_lines=2, elem_id="review-comment")
        with gr.Row():
            votes = {"a": gr.Button("A is better (A)", variant="primary", elem_id="vote-a"),
                     "b": gr.Button("B is better (B)", variant="primary", elem_id="vote-b"),
                     "tie": gr.Button("Tie (T)", elem_id="vote-tie"),
                     "both_bad": gr.Button("Both bad (X)", elem_id="vote-bad")}
        reveal = gr.Markdown(elem_id="review-reveal")
        live = gr.Markdown(elem_id="review-winrate")
        correction = correction_widgets()
        gr.Markdown(VOTE_HELP)
    token = gr.State(None)

    with gr.Accordion("Browse the answers side by side (not blind)", open=False):
        with gr.Row():
            browse_number = gr.Number(1, precision=0, label="Input #", scale=1)
            browse_first = gr.Dropdown([], label="Left", scale=2)
            browse_second = gr.Dropdown([], label="Right", scale=2)
            browse_button = gr.Button("Show", scale=1)
        browse_input = gr.Textbox(label="Input", interactive=False, lines=2)
        with gr.Row():
            browse_left = gr.Textbox(label="Left answer", interactive=False, lines=5)
            browse_right = gr.Textbox(label="Right answer", interactive=False, lines=5)
        browse_diff = gr.HighlightedText(label="Word-level differences", combine_adjacent=True, show_legend=True,
                                         show_inline_category=False,
                                         color_map={"only on the left": "#fca5a5", "only on the right": "#86efac"},
                                         elem_id="review-diff")
    return ReviewWidgets(run_pick, systems, source, prompts_text, prompts_file, decoding, overlap, generate_button,
                         cancel_button, generate_notice, counter, start, input_box, reference, answer_a, answer_b,
                         score_a, score_b, comment, votes, reveal, live, token, browse_number, browse_first,
                         browse_second, browse_button, browse_input, browse_left, browse_right, browse_diff,
                         correction)


def create_review_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings, project: gr.Dropdown,
                      user: gr.Textbox) -> None:
    w = review_layout()
    create_systems_panel(store, guard, settings)
    h = ReviewHandlers(store, settings, w, GenerationCancels(), project_runs, run_choices, system_choices,
                       win_rate_line)
    hidden = {"api_visibility": "undocumented"}
    team = team_calls()  # next pair and votes: side by side, many people at once
    decoding = [w.decoding[name] for name in ("max_new_tokens", "temperature", "top_p", "seed")]
    w.generate_button.click(guard("generate", h.on_generate),
                            [project, w.run_pick, w.systems, w.source, w.prompts_text, w.prompts_file, *decoding,
                             w.overlap, user], w.generate_notice, api_name="generate_answers", concurrency_limit=1,
                            concurrency_id="generation")
    w.cancel_button.click(guard("generate", h.on_cancel, project=False), None, w.generate_notice,
                          api_name="cancel_generation")
    w.start.click(guard("review", h.on_start), [project, w.run_pick, user], w.pair_outputs, api_name="next_pair",
                  **team)
    vote_inputs = [project, w.run_pick, user, w.token, w.score_a, w.score_b, w.comment]
    c = CorrectionHandlers(store, w.correction, h.current_review)
    for choice, button in w.votes.items():
        button.click(guard("review", h.on_vote(choice)), vote_inputs, w.pair_outputs, api_name=f"vote_{choice}",
                     **team).then(guard("correct", c.on_voted, quiet=True), [project, w.run_pick, user],
                                  w.correction.outputs, **hidden)
    w.correction.save.click(guard("correct", c.on_save), [project, w.run_pick, user, w.correction.rating,
                                                          w.correction.text], w.correction.notice,
                            api_name="correct_answer", **team)
    w.source.change(guard("generate", h.on_source, project=False, quiet=True), w.source,
                    [w.prompts_text, w.prompts_file], **hidden)
    w.run_pick.change(guard("review", h.on_run, quiet=True), [project, w.run_pick],
                      [w.systems, w.browse_first, w.browse_second], **hidden)
    w.browse_button.click(guard("review", h.on_browse),
                          [project, w.run_pick, w.browse_number, w.browse_first, w.browse_second],
                          [w.browse_input, w.browse_left, w.browse_right, w.browse_diff], api_name="browse_answers")
    # Both the project's change and the tab's select set the systems for the run shown: the run picker's own
    # change does not fire when its value stays the same.
    for event in (project.change, tab.select):
        event(guard("review", h.on_project, quiet=True), [project, w.run_pick], [w.run_pick, w.systems,
                                                                                 w.generate_notice], **hidden)
