"""The Review tab's handlers: each turns widget values into one call to ftstudio.evaluation and returns named
updates ({widget: update}) for the widgets the layout made (review_tab.ReviewWidgets)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ftstudio.config import Settings
from ftstudio.evaluation import review as reviewing
from ftstudio.evaluation.compare import IdenticalCounts, VotingContexts, compare_run, identical_sentence
from ftstudio.evaluation.generations import DecodingSettings, describe_progress, parse_prompts, read_prompt_file
from ftstudio.evaluation.jobs import GenerationError
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.models import ModelError
from ftstudio.store import Store, StoreError
from ftstudio.ui.format import escape, message
from ftstudio.wording import plural

EMPTY_ANSWER = "(an empty answer: the model wrote nothing)"


class ReviewHandlers:
    """Handlers over one store and the tab's widgets (`w`); `cancels` holds each session's cancel flag."""

    def __init__(self, store: Store, settings: Settings, widgets, cancels, project_runs, run_choices,
                 system_choices, win_rate_line):
        self.store, self.settings, self.w, self.cancels = store, settings, widgets, cancels
        self.project_runs, self.run_choices = project_runs, run_choices
        self.system_choices, self.win_rate_line = system_choices, win_rate_line
        self.identical_count = IdenticalCounts(store)
        self.voting = VotingContexts(store)
        self._tallies: dict[tuple, str] = {}  # the win-rate line per review and number of votes (see tally)

    # --- lookups ---

    def current_run(self, picked, run_value):
        if picked is None:  # the project the guard looked up from the bar's name
            raise EvaluationError("Pick a project first.")
        run = self.store.find_run(run_value, picked.id) if run_value else None
        if run is None:
            raise EvaluationError("Pick a finished run to review (train one on the Train tab first).")
        return run

    def current_review(self, picked, run_value):
        return self.voting_context(picked, run_value).review

    def voting_context(self, picked, run_value):
        """The run picked, its newest review (the answers generated last are the ones to vote on) and its
        systems' names."""
        if picked is None:  # the project the guard looked up from the bar's name
            raise EvaluationError("Pick a project first.")
        return self.voting(picked, run_value)

    # --- what to compare ---

    def on_project(self, picked, run_value):
        """Runs and the default systems for the picked run (the DPO loop for a DPO run), however the tab was reached."""
        _, runs = self.project_runs(self.store, picked)
        choices = self.run_choices(runs)
        values = [value for _, value in choices]
        chosen = run_value if run_value in values else (values[0] if values else None)
        system_list, default = self.system_choices(self.store, runs, chosen)
        note = "" if choices else message("No finished run in this project yet: train one on the Train tab.", "info")
        return {self.w.run_pick: gr.update(choices=choices, value=chosen),
                self.w.systems: gr.update(choices=system_list, value=default), self.w.generate_notice: note}

    def on_run(self, picked, run_value):
        _, runs = self.project_runs(self.store, picked)
        system_list, default = self.system_choices(self.store, runs, run_value)
        return {self.w.systems: gr.update(choices=system_list, value=default),
                self.w.browse_first: gr.update(choices=system_list, value=default[0] if default else None),
                self.w.browse_second: gr.update(choices=system_list, value=default[1] if len(default) > 1 else None)}

    def on_source(self, value):
        typed = value == "prompts"
        return {self.w.prompts_text: gr.update(visible=typed), self.w.prompts_file: gr.update(visible=typed)}

    def on_generate(self, caller, picked, run_value, chosen_systems, source_value, typed, uploaded, tokens, temp,
                    nucleus, seed_value, overlap_value, reviewer, request: gr.Request, progress=gr.Progress()):
        reviewer = caller.recorded_name(reviewer)
        session = request.session_hash if request else "cli"
        flag = self.cancels.start(session)
        try:
            if not 1 <= int(overlap_value or 0) <= 10:
                raise EvaluationError("Reviewers per pair is a whole number from 1 to 10.")
            run = self.current_run(picked, run_value)
            prompts = None
            if source_value == "prompts":
                prompts = parse_prompts(typed or "") + (read_prompt_file(Path(uploaded)) if uploaded else [])
            decoding = DecodingSettings(max_new_tokens=int(tokens or 0), temperature=float(temp or 0),
                                        top_p=float(nucleus or 0), seed=int(seed_value or 0))

            def show_progress(done, total):
                progress(done / total if total else 1.0, desc=describe_progress(done, total))

            comparison = compare_run(self.store, self.settings, run, list(chosen_systems or []) or None,
                                     None if prompts is not None else source_value, prompts, decoding=decoding,
                                     on_progress=show_progress, should_stop=flag.is_set,
                                     user_name=(reviewer or "").strip() or None, overlap=int(overlap_value or 1))
        except (EvaluationError, GenerationError, ModelError, StoreError, OSError) as error:
            return {self.w.generate_notice: message(str(error), "error")}
        finally:
            self.cancels.finish(session)
        batch = comparison.batch
        if int(overlap_value or 1) != batch.review.overlap:
            self.store.set_review_overlap(batch.review.id, int(overlap_value or 1), (reviewer or "").strip() or None)
        what = "Cancelled: kept" if batch.state == "cancelled" else "Done:"
        pairs = len(self.store.review_pairs(batch.review.id))
        notes = "".join(f" {note}" for note in comparison.notes())
        return {self.w.generate_notice: message(
            f"{what} {plural(batch.created, 'new answer')}, {batch.reused} already stored. "
            f"{plural(pairs, 'blind pair')} {'is' if pairs == 1 else 'are'} ready below.{notes}", "ok")}

    def on_cancel(self, request: gr.Request):
        if self.cancels.cancel(request.session_hash if request else "cli"):
            note = message("Cancelling: the batch being generated finishes, then it stops. What is done is kept.",
                           "ok")
        else:
            note = message("Nothing is being generated right now.", "info")
        return {self.w.generate_notice: note}

    # --- the blind pair ---

    def _pair_view(self, token=None, input_text="", reference=None, answer_a="", answer_b="", counter="", note="",
                   tally="", placeholder=""):
        w = self.w
        return {w.token: token, w.input_box: input_text,
                w.reference: gr.update(value=reference or "", visible=bool(reference)),
                w.answer_a: gr.update(value=answer_a, placeholder=placeholder),
                w.answer_b: gr.update(value=answer_b, placeholder=placeholder), w.score_a: None, w.score_b: None,
                w.comment: "", w.counter: counter, w.reveal: note, w.live: tally}

    def show(self, found, pair, reviewer, note="", fingerprint=None):
        """The next pair, or, once the reviewer's queue is done, the tally by name (never between pairs: it would
        sway the next vote). `fingerprint`: the project's queue fingerprint, when just read."""
        identical = self.identical_count(found, fingerprint)
        same = identical_sentence(identical) if identical else ""
        if pair is None:
            counts = reviewing.progress(self.store, found, reviewer)
            purpose = reviewing.preference_data_note(found) or "See the Results tab, or generate more answers above."
            done = message(f"Nothing left for you in this review: you rated {counts['mine']} of "
                           f"{plural(counts['pairs'], 'pair')}. {same} {purpose}", "ok")
            return self._pair_view(counter=done, note=note, tally=self.tally(found, counts["ratings"]))
        counts = pair.progress
        purpose = reviewing.preference_data_note(found)
        counter = (f"Pair **{counts['mine'] + 1}** for you · **{counts['left']}** of "
                   f"{plural(counts['pairs'], 'pair')} still {'needs' if counts['left'] == 1 else 'need'} a vote"
                   + (f" · {escape(same)}" if same else "") + (f" · {escape(purpose)}" if purpose else ""))
        return self._pair_view(pair.token, pair.input, pair.reference, pair.answer_a, pair.answer_b, counter, note,
                               placeholder=EMPTY_ANSWER)

    def tally(self, found, ratings: int) -> str:
        """The win-rate line (a bootstrap over every vote), computed once per number of votes in the review:
        a reviewer whose queue is done would otherwise pay for it again at every press of Start reviewing."""
        key = (found.id, ratings, *self.store.queue_fingerprint(found.project_id))
        if key not in self._tallies:
            if len(self._tallies) >= 64:
                self._tallies.clear()
            self._tallies[key] = self.win_rate_line(self.store, found)
        return self._tallies[key]

    def on_start(self, caller, picked, run_value, reviewer):
        reviewer = caller.recorded_name(reviewer)
        try:
            context = self.voting_context(picked, run_value)
            return self.show(context.review, reviewing.next_pair(self.store, context.review, reviewer), reviewer,
                             fingerprint=context.fingerprint)
        except (EvaluationError, StoreError) as error:
            return self._pair_view(counter=message(str(error), "error"))

    def on_vote(self, choice: str):
        def handler(caller, picked, run_value, reviewer, current, first_score, second_score, note_text):
            reviewer = caller.recorded_name(reviewer)
            try:
                context = self.voting_context(picked, run_value)
                found = context.review
                if not current:
                    return self.show(found, reviewing.next_pair(self.store, found, reviewer), reviewer,
                                     message("Press Start reviewing (or a key) once a pair is on screen.", "info"),
                                     context.fingerprint)
                revealed = reviewing.vote(self.store, current, reviewer, choice, first_score, second_score, note_text,
                                          found, context.labels)
                return self.show(found, reviewing.next_pair(self.store, found, reviewer), reviewer,
                                 message("Previous pair: " + revealed.message, "ok"), context.fingerprint)
            except (EvaluationError, StoreError) as error:
                return {widget: gr.update() for widget in self.w.pair_outputs} | {
                    self.w.reveal: message(str(error), "error")}
        return handler

    # --- the open view ---

    def on_browse(self, caller, picked, run_value, number, left, right):
        w = self.w
        try:
            found = self.current_review(picked, run_value)
            if not caller.may("inspect"):
                # Seeing the answers with their systems' names would unblind the pairs still to be voted on.
                counts = reviewing.progress(self.store, found, caller.recorded_name(None) or "")
                left_to_vote = min(counts["left"], counts["pairs"] - counts["mine"])
                if left_to_vote > 0:
                    raise EvaluationError(f"Finish your blind votes first ({plural(left_to_vote, 'pair')} left): "
                                          "the open view shows which system wrote each answer.")
        except EvaluationError as error:
            return {w.browse_input: "", w.browse_left: "", w.browse_right: "", w.browse_diff: [(str(error), None)]}
        items = reviewing.open_items(self.store, found)
        if not items:
            return {w.browse_input: "No answers yet.", w.browse_left: "", w.browse_right: "", w.browse_diff: []}
        item = items[min(max(int(number or 1), 1), len(items)) - 1]
        first, second = item["answers"].get(left, ""), item["answers"].get(right, "")
        return {w.browse_input: item["input"], w.browse_left: first, w.browse_right: second,
                w.browse_diff: reviewing.word_diff(first, second, "only on the left", "only on the right")}
