"""The Review tab: generate the answers to compare, vote on blind pairs with the keyboard, browse them openly.

The token of the pair on screen lives in gr.State, on the server: the browser gets the input and two answers
labeled A and B, nothing that names a system, until the vote is in.
"""

from __future__ import annotations

import threading
from pathlib import Path

import gradio as gr

from ftstudio.config import Settings
from ftstudio.evaluation import report, review as reviewing
from ftstudio.evaluation import loop
from ftstudio.evaluation.generations import (BASE, REFERENCE, DecodingSettings, EvaluationError, describe_progress,
                                             generate_for_run, parse_prompts, read_prompt_file, run_label)
from ftstudio.evaluation.jobs import GenerationError
from ftstudio.models import ModelError
from ftstudio.store import Store, StoreError
from ftstudio.ui.handlers import Guard
from ftstudio.ui.format import escape, message
from ftstudio.wording import plural

SOURCES = ("test split", "validation split", "my prompts")
EMPTY_ANSWER = "(an empty answer: the model wrote nothing)"
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


def system_choices(runs, selected: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    finished = [r for r in runs if r.status == "finished"]
    choices = [(run_label(r), r.system) for r in finished] + [("base model", BASE),
                                                               ("reference (the data's own output)", REFERENCE)]
    default = [f"run-{selected}", BASE] if selected else []
    return choices, default


def win_rate_line(store: Store, review) -> str:
    """The latest figures in one line, under the pair being rated."""
    results = report.human_results(store, review, resamples=1000, with_bradley_terry=False)
    entry = next(iter(results["human"].values()), None)
    if not entry or not entry["votes"]:
        return "No votes yet."
    labels = results["labels"]
    rate = "–" if entry["win_rate"] is None else (f"{entry['win_rate']:.0%} (95% interval {entry['ci_low']:.0%}–"
                                                  f"{entry['ci_high']:.0%})")
    return (f"**So far** ({plural(results['votes'], 'vote')}): {escape(labels[entry['system']])} wins {rate} of decisive "
            f"votes against the {escape(labels[entry['against']])} · {plural(entry['ties'], 'tie')} · "
            f"{entry['both_bad']} both bad.")


def create_review_tab(app: gr.Blocks, tab: gr.Tab, store: Store, guard: Guard, settings: Settings, project: gr.Dropdown,
                      user: gr.Textbox) -> None:
    cancels = GenerationCancels()
    defaults = DecodingSettings()

    gr.Markdown("### 1 · Answers to compare")
    with gr.Row():
        run_pick = gr.Dropdown([], label="Run under review", info="A finished run; its test split and template.",
                               elem_id="review-run", scale=2, allow_custom_value=True)
        systems = gr.CheckboxGroup([], label="Systems to compare", elem_id="review-systems", scale=3,
                                   info="The run against the base model it started from; add other runs or the "
                                        "reference answers from the data.")
    with gr.Row():
        source = gr.Radio(list(SOURCES), value=SOURCES[0], label="Inputs", scale=1)
        prompts_text = gr.Textbox(label="Your prompts", lines=3, visible=False, scale=2, elem_id="review-prompts",
                                  placeholder="One per line, or longer ones separated by a line holding ---")
        prompts_file = gr.File(label="…or a file (.txt, .md, .jsonl, .csv)", visible=False, scale=1,
                               file_types=[".txt", ".md", ".jsonl", ".csv"])
    with gr.Accordion("Decoding settings", open=False):
        with gr.Row():
            max_new_tokens = gr.Number(defaults.max_new_tokens, precision=0, label="max new tokens",
                                       info=DecodingSettings.__dataclass_fields__["max_new_tokens"].metadata["help"])
            temperature = gr.Number(defaults.temperature, label="temperature",
                                    info=DecodingSettings.__dataclass_fields__["temperature"].metadata["help"])
            top_p = gr.Number(defaults.top_p, label="top-p",
                              info=DecodingSettings.__dataclass_fields__["top_p"].metadata["help"])
            seed = gr.Number(defaults.seed, precision=0, label="seed",
                             info=DecodingSettings.__dataclass_fields__["seed"].metadata["help"])
            overlap = gr.Number(1, precision=0, label="reviewers per pair",
                                info="Above 1, each pair goes to that many people and their agreement is shown.")
    with gr.Row():
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
            vote_a = gr.Button("A is better (A)", variant="primary", elem_id="vote-a")
            vote_b = gr.Button("B is better (B)", variant="primary", elem_id="vote-b")
            vote_tie = gr.Button("Tie (T)", elem_id="vote-tie")
            vote_bad = gr.Button("Both bad (X)", elem_id="vote-bad")
        reveal = gr.Markdown(elem_id="review-reveal")
        live = gr.Markdown(elem_id="review-winrate")
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

    # --- handlers ---

    def current_run(picked, run_value):
        chosen, runs = project_runs(store, picked)
        if chosen is None:
            raise EvaluationError("Pick a project first.")
        run = store.find_run(run_value, chosen.id) if run_value else None
        if run is None:
            raise EvaluationError("Pick a finished run to review (train one on the Train tab first).")
        return run

    def current_review(picked, run_value):
        run = current_run(picked, run_value)
        found = reviewing.latest_review(store, run)
        if found is None:
            raise EvaluationError(f"Run {run.id} has no answers to review yet: press Generate answers above.")
        return found

    def on_project(picked, run_value):
        _, runs = project_runs(store, picked)
        choices = run_choices(runs)
        values = [value for _, value in choices]
        chosen = run_value if run_value in values else (values[0] if values else None)
        system_list, default = system_choices(runs, chosen)
        note = "" if choices else message("No finished run in this project yet: train one on the Train tab.", "info")
        return gr.update(choices=choices, value=chosen), gr.update(choices=system_list, value=default), note

    def on_run(picked, run_value):
        _, runs = project_runs(store, picked)
        system_list, default = system_choices(runs, run_value)
        run_found = next((r for r in runs if str(r.id) == str(run_value)), None)
        if run_found is not None and run_found.status == "finished" and loop.is_preference_run(run_found):
            default = loop.loop_systems(store, run_found)  # a DPO run against where it started, and the base
        return (gr.update(choices=system_list, value=default),
                gr.update(choices=system_list, value=default[0] if default else None),
                gr.update(choices=system_list, value=default[1] if len(default) > 1 else None))

    def on_source(value):
        typed = value == "my prompts"
        return gr.update(visible=typed), gr.update(visible=typed)

    def on_generate(caller, picked, run_value, chosen_systems, source_value, typed, uploaded, tokens, temp, nucleus,
                    seed_value, overlap_value, reviewer, request: gr.Request, progress=gr.Progress()):
        reviewer = caller.recorded_name(reviewer)
        session = request.session_hash if request else "cli"
        flag = cancels.start(session)
        try:
            if not 1 <= int(overlap_value or 0) <= 10:
                raise EvaluationError("Reviewers per pair is a whole number from 1 to 10.")
            run = current_run(picked, run_value)
            prompts = None
            if source_value == "my prompts":
                prompts = parse_prompts(typed or "") + (read_prompt_file(Path(uploaded)) if uploaded else [])
            decoding = DecodingSettings(max_new_tokens=int(tokens or 0), temperature=float(temp or 0),
                                        top_p=float(nucleus or 0), seed=int(seed_value or 0))
            split = source_value.split()[0] if source_value != "my prompts" else None

            def show_progress(done, total):
                progress(done / total if total else 1.0, desc=describe_progress(done, total))

            options = {"on_progress": show_progress, "should_stop": flag.is_set,
                       "user_name": (reviewer or "").strip() or None, "overlap": int(overlap_value or 1)}
            left_out = 0
            if split and loop.is_preference_run(run) and set(chosen_systems or []) == set(loop.loop_systems(store, run)):
                # The loop: prompts the DPO run trained on are left out, so it is graded on ones it has not seen.
                batch, left_out = loop.review_preference_run(store, settings, run, split, decoding=decoding, **options)
            else:
                batch = generate_for_run(store, settings, run, list(chosen_systems or []), split, prompts, decoding,
                                         **options)
        except (EvaluationError, GenerationError, ModelError, StoreError, OSError) as error:
            return message(str(error), "error")
        finally:
            cancels.finish(session)
        if int(overlap_value or 1) != batch.review.overlap:
            store.set_review_overlap(batch.review.id, int(overlap_value or 1), (reviewer or "").strip() or None)
        what = "Cancelled: kept" if batch.state == "cancelled" else "Done:"
        pairs = len(store.review_pairs(batch.review.id))
        skipped = (f" {plural(left_out, 'prompt')} left out: run {run.id} trained on their preference pairs."
                   if left_out else "")
        return message(f"{what} {plural(batch.created, 'new answer')}, {batch.reused} already stored. "
                       f"{plural(pairs, 'blind pair')} {'is' if pairs == 1 else 'are'} ready below.{skipped}", "ok")

    def on_cancel(request: gr.Request):
        if cancels.cancel(request.session_hash if request else "cli"):
            return message("Cancelling: the batch being generated finishes, then it stops. What is done is kept.", "ok")
        return message("Nothing is being generated right now.", "info")

    blank = (None, "", gr.update(value="", visible=False), "", "", None, None, "")

    def show(found, pair, reviewer, note=""):
        if pair is None:
            counts = reviewing.progress(store, found, reviewer)
            done = message(f"Nothing left for you in this review: you rated {counts['mine']} of "
                           f"{plural(counts['pairs'], 'pair')}. See the Results tab, or generate more answers above.",
                           "ok")
            return (None, "", gr.update(value="", visible=False), gr.update(value="", placeholder=""),
                    gr.update(value="", placeholder=""), None, None, "", done, note, win_rate_line(store, found))
        counts = pair.progress
        counter_text = (f"Pair **{counts['mine'] + 1}** for you · **{counts['left']}** of "
                        f"{plural(counts['pairs'], 'pair')} still {'needs' if counts['left'] == 1 else 'need'} a vote")
        return (pair.token, pair.input, gr.update(value=pair.reference or "", visible=bool(pair.reference)),
                gr.update(value=pair.answer_a, placeholder=EMPTY_ANSWER),
                gr.update(value=pair.answer_b, placeholder=EMPTY_ANSWER), None, None, "", counter_text, note,
                win_rate_line(store, found))

    def on_start(caller, picked, run_value, reviewer):
        reviewer = caller.recorded_name(reviewer)
        try:
            found = current_review(picked, run_value)
            return show(found, reviewing.next_pair(store, found, reviewer), reviewer)
        except (EvaluationError, StoreError) as error:
            return blank + (message(str(error), "error"), "", "")

    def on_vote(choice):
        def handler(caller, picked, run_value, reviewer, current, first_score, second_score, note_text):
            reviewer = caller.recorded_name(reviewer)
            try:
                found = current_review(picked, run_value)
                if not current:
                    return show(found, reviewing.next_pair(store, found, reviewer), reviewer,
                                message("Press Start reviewing (or a key) once a pair is on screen.", "info"))
                revealed = reviewing.vote(store, current, reviewer, choice, first_score, second_score, note_text)
                return show(found, reviewing.next_pair(store, found, reviewer), reviewer, message("Previous pair: " + revealed.message, "ok"))
            except (EvaluationError, StoreError) as error:
                return (gr.update(),) * 8 + (gr.update(), message(str(error), "error"), gr.update())
        return handler

    def on_browse(caller, picked, run_value, number, left, right):
        try:
            found = current_review(picked, run_value)
            if not caller.may("inspect"):
                # Seeing the answers with their systems' names would unblind the pairs still to be voted on.
                counts = reviewing.progress(store, found, caller.recorded_name(None) or "")
                left_to_vote = min(counts["left"], counts["pairs"] - counts["mine"])
                if left_to_vote > 0:
                    raise EvaluationError(f"Finish your blind votes first ({plural(left_to_vote, 'pair')} left): "
                                          "the open view shows which system wrote each answer.")
        except EvaluationError as error:
            return "", "", "", [(str(error), None)]
        items = reviewing.open_items(store, found)
        if not items:
            return "No answers yet.", "", "", []
        item = items[min(max(int(number or 1), 1), len(items)) - 1]
        first, second = item["answers"].get(left, ""), item["answers"].get(right, "")
        return item["input"], first, second, reviewing.word_diff(first, second, "only on the left",
                                                                 "only on the right")

    hidden = {"api_visibility": "undocumented"}
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    pair_outputs = [token, input_box, reference, answer_a, answer_b, score_a, score_b, comment, counter, reveal, live]
    vote_inputs = [project, run_pick, user, token, score_a, score_b, comment]
    generate_button.click(guard("generate", on_generate), [project, run_pick, systems, source, prompts_text, prompts_file,
                                        max_new_tokens, temperature, top_p, seed, overlap, user],
                          generate_notice, api_name="generate_answers", concurrency_limit=1,
                          concurrency_id="generation")
    cancel_button.click(guard("generate", on_cancel, project=False), None, generate_notice, api_name="cancel_generation")
    start.click(guard("review", on_start), [project, run_pick, user], pair_outputs, api_name="next_pair", **writes)
    vote_a.click(guard("review", on_vote("a")), vote_inputs, pair_outputs, api_name="vote_a", **writes)
    vote_b.click(guard("review", on_vote("b")), vote_inputs, pair_outputs, api_name="vote_b", **writes)
    vote_tie.click(guard("review", on_vote("tie")), vote_inputs, pair_outputs, api_name="vote_tie", **writes)
    vote_bad.click(guard("review", on_vote("both_bad")), vote_inputs, pair_outputs, api_name="vote_both_bad", **writes)
    source.change(guard("generate", on_source, project=False, quiet=True), source, [prompts_text, prompts_file], **hidden)
    run_pick.change(guard("review", on_run, quiet=True), [project, run_pick], [systems, browse_first, browse_second], **hidden)
    browse_button.click(guard("review", on_browse), [project, run_pick, browse_number, browse_first, browse_second],
                        [browse_input, browse_left, browse_right, browse_diff], api_name="browse_answers")
    project.change(guard("review", on_project, quiet=True), [project, run_pick], [run_pick, systems, generate_notice], **hidden)
    tab.select(guard("review", on_project, quiet=True), [project, run_pick], [run_pick, systems, generate_notice], **hidden)
