"""Comparing a run: the one place that decides what a run's review compares and on which inputs, and the one place
that opens a blind review over generated answers (generation itself only generates).

A DPO run is reviewed as the loop (against the run it started from, and the base model) unless other systems or
typed prompts are asked for; any other run against the base model, or the systems chosen. Whichever it is, no run
is paired on an input it learned from, and identical answers are never put before people: both are counted, and
said, so a user knows what the review holds and why.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from ftstudio.config import Settings
from ftstudio.evaluation.generations import GenerationBatch, generate_answers, inputs_from_split, left_out_inputs
from ftstudio.evaluation.loop import is_preference_run, loop_inputs, loop_systems, start_of
from ftstudio.evaluation.prompts import inputs_from_prompts
from ftstudio.evaluation.review import QueuePlan, ensure_review, newest_review, plan_pairs, system_labels
from ftstudio.evaluation.systems import BASE, EvaluationError
from ftstudio.store import Project, Review, Run, Store
from ftstudio.wording import plural


@dataclass
class ReviewedBatch(GenerationBatch):
    """A batch of generated answers and the blind review opened (or found) over them."""

    review: Review

    def to_dict(self) -> dict:
        """The CLI's --json shape: the batch's, with the review's id after its state."""
        answers = super().to_dict()
        generations = answers.pop("generations")
        return answers | {"review": self.review.id, "generations": generations}


def generate_and_review(store: Store, studio: Settings, run: Run, systems: list[str] | None = None,
                        split: str | None = "test", prompts: list[str] | None = None, overlap: int = 1,
                        user_name: str | None = None, **options) -> ReviewedBatch:
    """Generate (or reuse) every named system's answers, then open (or find) the blind review of those systems over
    them, its queue brought up to date. Decides nothing: the systems and inputs are the caller's (see compare_run).
    `options` go to generate_answers (decoding, backend, inputs, on_progress, should_stop, on_started, tokenizer)."""
    batch = generate_answers(store, studio, run, systems, split, prompts, user_name=user_name, **options)
    review = ensure_review(store, run, batch.systems, batch.settings_key, overlap, user_name,
                           leave_out=lambda texts: left_out_inputs(store, run, batch.systems, texts),
                           split=None if prompts else split)
    return ReviewedBatch(**vars(batch), review=review)


@dataclass
class Comparison:
    """A review built for a run: its answers, whether it is the DPO loop, and what it left out (input -> why)."""

    batch: ReviewedBatch
    loop: bool
    split: str | None
    left_out: dict[str, str] = field(default_factory=dict)
    identical: int = 0

    @property
    def review(self) -> Review:
        return self.batch.review

    def notes(self) -> list[str]:
        """What the review leaves out and why, in sentences."""
        lines = [left_out_sentence(self.left_out)] if self.left_out else []
        if self.identical:
            lines.append(identical_sentence(self.identical))
        if self.split == "train" and not self.left_out:
            lines.append(f"Run {self.review.run_id} trained on these prompts: votes here make preference data for "
                         "DPO; they do not grade the run.")
        return lines

    def to_dict(self) -> dict:
        """The CLI's --json shape: the batch's, with the loop flag and what was left out."""
        reasons = Counter(self.left_out.values())
        return self.batch.to_dict() | {"loop": self.loop, "left_out_trained": len(self.left_out),
                                       "left_out_reasons": dict(reasons), "identical_pairs": self.identical}


def wants_loop(store: Store, run: Run, systems: list[str] | None = None, prompts: list[str] | None = None) -> bool:
    """A DPO run's review is the loop unless other systems or typed prompts were asked for."""
    if prompts or not is_preference_run(run):
        return False
    return not systems or set(systems) == set(loop_systems(store, run))


def default_systems(store: Store, run: Run) -> list[str]:
    """What a run is compared with when nobody says: the loop for a DPO run; for a run that started from another
    (CPT, then SFT: --from-run) the run, the one it started from and the base model; else the run and the base."""
    if is_preference_run(run):
        return loop_systems(store, run)
    start = start_of(store, run)
    return [run.system, *([start.system] if start is not None else []), BASE]


def compare_run(store: Store, studio: Settings, run: Run, systems: list[str] | None = None, split: str | None = "test",
                prompts: list[str] | None = None, **options) -> Comparison:
    """Generate every system's answers and open the blind review: the one entry point of the CLI's `generate` and
    the Review tab. `options` go to generate_and_review (decoding, backend, on_progress, should_stop, user_name,
    overlap)."""
    loop = wants_loop(store, run, systems, prompts)
    names = loop_systems(store, run) if loop else list(systems or default_systems(store, run))
    split = None if prompts else (split or "test")
    inputs = inputs_from_prompts(prompts) if prompts else inputs_from_split(store, run, split)
    left_out = left_out_inputs(store, run, names, {item.input for item in inputs})
    kept = [item for item in inputs if item.input not in left_out]
    if not kept:
        where = f"{split} prompt" if split else "prompt given"
        raise EvaluationError(f"Every {where} is one a run under review trained on ({next(iter(left_out.values()))}), "
                              "so a review there would grade it on what it was taught. Review it on the test split, "
                              "or on prompts of your own.")
    batch = generate_and_review(store, studio, run, names, split=split, inputs=kept, **options)
    return Comparison(batch, loop, split, left_out, len(review_queue(store, batch.review).identical))


def review_preference_run(store: Store, studio: Settings, run: Run, split: str = "test", **options
                          ) -> tuple[ReviewedBatch, int]:
    """The DPO loop's review (compare_run's choice for a DPO run); returns its batch and how many prompts were left
    out as trained on. Refuses a run that is not a DPO run, and a split whose every prompt it learned from."""
    if not is_preference_run(run):
        raise EvaluationError(f"Run {run.id} is not a DPO run: compare it on the Review tab as usual.")
    loop_inputs(store, run, split)  # refuses, in the loop's words, when every prompt is one the run learned from
    comparison = compare_run(store, studio, run, split=split, **options)
    return comparison.batch, len(comparison.left_out)


def review_queue(store: Store, review: Review) -> QueuePlan:
    """The review's queue as it stands: its pairs, the identical ones kept from people, the inputs left out."""
    run = store.get_run(review.run_id) if review.run_id is not None else None
    if run is None:
        return plan_pairs(store, review)
    return plan_pairs(store, review, lambda texts: left_out_inputs(store, run, review.systems, texts))


class IdenticalCounts:
    """How many of a review's pairs were kept from people as identical, remembered per review until its project's
    answers or runs change. Counting plans the whole queue (every answer read and compared); the Review tab says
    the count beside every pair it shows, so without this each vote would pay for a fresh plan."""

    def __init__(self, store: Store, keep: int = 64):
        self.store, self.keep, self._known, self._lock = store, keep, {}, threading.Lock()

    def __call__(self, review: Review, fingerprint: tuple | None = None) -> int:
        """`fingerprint`: the project's queue_fingerprint, when the caller has just read it."""
        key = (review.id, *(fingerprint or self.store.queue_fingerprint(review.project_id)))
        with self._lock:
            if key in self._known:
                return self._known[key]
        count = len(review_queue(self.store, review).identical)
        with self._lock:
            if len(self._known) >= self.keep:
                self._known.clear()
            self._known[key] = count
        return count


@dataclass(frozen=True)
class VotingContext:
    """What a Review tab call works on: the run picked, its newest review, its systems' names once revealed, and
    the project's queue fingerprint they were read under."""

    run: Run
    review: Review
    labels: dict[str, str]
    fingerprint: tuple


class VotingContexts:
    """The run a voting call names, its newest review and its systems' names, remembered until the project's
    answers, runs or reviews change (its queue_fingerprint: one query per call instead of three or four, on
    every vote of every reviewer)."""

    def __init__(self, store: Store, keep: int = 64):
        self.store, self.keep, self._known, self._lock = store, keep, {}, threading.Lock()

    def __call__(self, project: Project, run_value) -> VotingContext:
        fingerprint = self.store.queue_fingerprint(project.id)
        key = (project.id, str(run_value), *fingerprint)
        with self._lock:
            if key in self._known:
                return self._known[key]
        run = self.store.find_run(run_value, project.id) if run_value else None
        if run is None:
            raise EvaluationError("Pick a finished run to review (train one on the Train tab first).")
        found = newest_review(self.store, run)  # the answers generated last are the ones to vote on
        if found is None:
            raise EvaluationError(f"Run {run.id} has no answers to review yet: press Generate answers above.")
        context = VotingContext(run, found, system_labels(self.store, found), fingerprint)
        with self._lock:
            if len(self._known) >= self.keep:
                self._known.clear()
            self._known[key] = context
        return context


def left_out_sentence(left_out: dict[str, str]) -> str:
    """'5 prompts left out: run 2 trained on their preference pairs.'"""
    reasons = Counter(left_out.values()).most_common()
    if len(left_out) == 1:  # the reasons speak of prompts in the plural ("trained on them")
        return f"1 prompt left out: {reasons[0][0].replace(' their ', ' its ').replace(' them', ' it')}."
    if len(reasons) == 1:
        return f"{plural(len(left_out), 'prompt')} left out: {reasons[0][0]}."
    return (f"{plural(len(left_out), 'prompt')} left out: "
            + "; ".join(f"{count} because {why}" for why, count in reasons) + ".")


def identical_sentence(count: int) -> str:
    """How many pairs were kept from reviewers because both answers had the same words."""
    return (f"{plural(count, 'pair')} not put to reviewers: both answers were word for word the same, so "
            f"{'it counts' if count == 1 else 'they count'} as {'a tie' if count == 1 else 'ties'}.")
