"""Blind side-by-side review: pairs of answers to one input, A and B assigned at random per reviewer.

The server keeps which system is A. What a reviewer (or an API caller) gets before voting is an opaque token,
the input, the two answers and the progress counts: no system name, no generation id, and the order of the two
answers is drawn afresh for each reviewer. The identities are revealed with the vote's answer.
"""

from __future__ import annotations

import difflib
import random
import re
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable

from ftstudio.evaluation.systems import (BASE, BASE_LABEL, REFERENCE, REFERENCE_LABEL, EvaluationError, run_label,
                                         run_system_name)
from ftstudio.store import Generation, Review, Run, Store, StoreError

LEASE_SECONDS = 30 * 60
# Votes in the reviewer's terms: the answer shown as A, the one shown as B, a tie, or both bad.
CHOICES = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both bad"}
KEYS = {"a": "a", "b": "b", "t": "tie", "x": "both_bad"}


@dataclass
class BlindPair:
    """What a reviewer sees before voting: nothing here names a system."""

    token: str
    input: str
    reference: str | None
    answer_a: str
    answer_b: str
    progress: dict


@dataclass
class Reveal:
    system_a: str
    system_b: str
    choice: str
    message: str
    rating_id: int | None = None  # for a correction after the vote (evaluation.corrections)


def system_labels(store: Store, review: Review) -> dict[str, str]:
    """How each system of a review is named once identities may be shown."""
    labels = {}
    for name in review.systems:
        if name == BASE:
            labels[name] = BASE_LABEL
        elif name == REFERENCE:
            labels[name] = REFERENCE_LABEL
        else:
            run = store.find_run(name)
            labels[name] = run_label(run) if run else name
    return labels


def same_answer(first: Generation, second: Generation) -> bool:
    """Two answers with the same words (spacing aside): a tie, whoever would judge them, so nobody is asked."""
    return " ".join((first.output or "").split()) == " ".join((second.output or "").split())


@dataclass
class QueuePlan:
    """What a review's queue holds and what it leaves out: the pairs to vote on (item, generation a, generation b,
    position), the pairs whose two answers are identical (item, first system, second system: ties, never asked),
    and the inputs left out because a run trained on them (input -> why)."""

    pairs: list[tuple[str, int, int, float]] = field(default_factory=list)
    identical: list[tuple[str, str, str]] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)


LeaveOut = Callable[[set[str]], dict[str, str]]


def plan_pairs(store: Store, review: Review, leave_out: LeaveOut | None = None) -> QueuePlan:
    """Every two systems that both answered an input, except identical answers and inputs `leave_out` names.

    The queue order is shuffled (seeded by the review and the input), so reviewers do not meet the inputs in
    dataset order, nor the pairs of one input one after the other.
    """
    by_item: dict[str, dict[str, Generation]] = defaultdict(dict)
    for generation in store.list_generations(review.project_id, review.settings_key, review.systems):
        by_item[generation.item_key][generation.system] = generation
    # Only inputs the review's own run answered: other batches with the same settings (the start run and the base
    # model answering train prompts for another review, say) are that review's business, not this one's.
    primary = run_system_name(review.run_id) if review.run_id is not None else None
    answered = {key: answers for key, answers in by_item.items() if primary not in review.systems or primary in answers}
    inputs = {next(iter(answers.values())).input for answers in answered.values()}
    plan = QueuePlan(left_out=leave_out(inputs) if leave_out else {})
    for item_key, answers in answered.items():
        if next(iter(answers.values())).input in plan.left_out:
            continue
        for first, second in combinations(review.systems, 2):
            if first in answers and second in answers:
                if same_answer(answers[first], answers[second]):
                    plan.identical.append((item_key, first, second))
                    continue
                position = random.Random(f"{review.id}:{item_key}:{first}:{second}").random()
                plan.pairs.append((item_key, answers[first].id, answers[second].id, position))
    return plan


def ensure_review(store: Store, run: Run, systems: list[str], settings_key: str, overlap: int = 1,
                  user_name: str | None = None, leave_out: LeaveOut | None = None, split: str | None = None) -> Review:
    """The review of these systems over the outputs of one batch of settings, its pairs brought up to date."""
    review = store.find_review(run.project_id, run.id, systems, settings_key)
    if review is None:
        review = store.create_review(run.project_id, run.id, systems, settings_key, max(1, int(overlap)), user_name,
                                     split="train" if split == "train" else None)
    store.mark_review_generated(review.id)
    sync_pairs(store, review, leave_out)
    return review


def sync_pairs(store: Store, review: Review, leave_out: LeaveOut | None = None) -> int:
    """Queue a pair for every two systems that both answered an input (see plan_pairs); returns how many were new."""
    return store.add_review_pairs(review.id, plan_pairs(store, review, leave_out).pairs)


def latest_review(store: Store, run: Run) -> Review | None:
    """The run's newest review that grades it (on prompts it did not train on); a review of train-split answers,
    whose votes are preference data, only when the run has no other."""
    reviews = store.list_reviews(run.project_id, run.id)
    grading = [review for review in reviews if review.split != "train"]
    return (grading or reviews or [None])[0]


def newest_review(store: Store, run: Run) -> Review | None:
    """The run's review generated last, whatever its inputs: the one a reviewer votes on next."""
    return store.newest_generated_review(run.project_id, run.id)


def preference_data_note(review: Review) -> str | None:
    """What a review of train-split answers is for, said wherever its figures are shown."""
    if review.split != "train":
        return None
    return (f"Review {review.id} holds answers to prompts run {review.run_id} trained on: its votes are preference "
            "data for DPO, not a grade of the run. Generate answers on the test split to grade it.")


def _reviewer(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise EvaluationError("Type your name in 'You are' first: each reviewer has their own queue.")
    return name


def progress(store: Store, review: Review, reviewer: str) -> dict:
    return store.review_counts(review.id, reviewer, review.overlap)


def next_pair(store: Store, review: Review, reviewer: str) -> BlindPair | None:
    """The reviewer's next blind pair (their unfinished one first, so a reload resumes); None when done."""
    reviewer = _reviewer(reviewer)
    # Which answer is A: a fresh coin for every pair and every reviewer, kept on the server with the token.
    assignment = store.assign_next_pair(review.id, reviewer, secrets.token_urlsafe(16), secrets.randbelow(2) == 0,
                                        LEASE_SECONDS, review.overlap)
    if assignment is None:
        return None
    pair, answers = store.pair_answers(assignment.pair_id)
    left = answers[assignment.left_generation]
    right = answers[pair.generation_b if left.id == pair.generation_a else pair.generation_a]
    # A reference shown as context while it is also a contestant gives it away: on its own pairs by being the
    # same text as one answer, on the others by being missing there. So where it competes, it is never shown.
    shows_reference = REFERENCE not in review.systems
    return BlindPair(assignment.token, left.input, left.reference if shows_reference else None, left.output,
                     right.output, progress(store, review, reviewer))


def _score(value, side: str) -> int | None:
    if value in (None, "", 0):
        return None
    try:
        score = int(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"The score for {side} is a whole number from 1 to 5, or empty.") from None
    if not 1 <= score <= 5:
        raise EvaluationError(f"The score for {side} is a whole number from 1 to 5, or empty; got {score}.")
    return score


def vote(store: Store, token: str, reviewer: str, choice: str, score_a=None, score_b=None,
         comment: str | None = None, review: Review | None = None, labels: dict[str, str] | None = None) -> Reveal:
    """Record a vote on the pair behind `token` (A, B: the answers as shown) and reveal who was who. `review`:
    the review the caller has read already (checked against the pair's); `labels`: its system_labels, if read."""
    reviewer = _reviewer(reviewer)
    choice = KEYS.get(choice, choice)
    if choice not in CHOICES:
        raise EvaluationError("A vote is a (A is better), b (B is better), t (tie) or x (both bad).")
    held = store.assigned_pair(token or "")
    if held is None or held[0].reviewer != reviewer:
        raise EvaluationError("This pair is no longer waiting for your vote (it was answered, or its 30-minute "
                              "hold ran out): load the next pair.")
    assignment, pair, answers = held
    left_is_a = assignment.left_generation == pair.generation_a
    to_pair = {"a": "a" if left_is_a else "b", "b": "b" if left_is_a else "a", "tie": "tie", "both_bad": "both_bad"}
    shown_a, shown_b = _score(score_a, "A"), _score(score_b, "B")
    try:
        rating = store.record_rating(assignment, to_pair[choice], shown_a if left_is_a else shown_b,
                                     shown_b if left_is_a else shown_a, (comment or "").strip()[:2000], pair)
    except StoreError as error:
        raise EvaluationError(str(error)) from None
    if review is None or review.id != pair.review_id:
        review, labels = store.get_review(pair.review_id), None
    labels = labels or system_labels(store, review)
    left, right = answers[pair.generation_a], answers[pair.generation_b]
    system_a, system_b = (left.system, right.system) if left_is_a else (right.system, left.system)
    named = {name: label if label.startswith("run ") else f"the {label}" for name, label in labels.items()}
    message = f"A was {named[system_a]}; B was {named[system_b]}. You chose \u201c{CHOICES[choice]}\u201d."
    return Reveal(labels[system_a], labels[system_b], choice, message, rating.id)


def agreement(store: Store, review: Review) -> dict:
    """How often reviewers agree on the pairs more than one of them rated: Cohen's kappa for two, Fleiss' for more."""
    from ftstudio.labeling import cohen_kappa, fleiss_kappa

    by_pair: dict[int, dict[str, str]] = defaultdict(dict)
    for rating in store.list_ratings(review.id):
        by_pair[rating.pair_id][rating.rater] = rating.winner
    shared = {pair: votes for pair, votes in by_pair.items() if len(votes) >= 2}
    reviewers = sorted({r for votes in shared.values() for r in votes})
    result = {"pairs": len(shared), "reviewers": reviewers, "method": None, "kappa": None,
              "agreement": None}
    if not shared:
        return result
    same = [len(set(votes.values())) == 1 for votes in shared.values()]
    result["agreement"] = sum(same) / len(same)
    if len(reviewers) == 2:
        a, b = reviewers
        pairs = [(votes[a], votes[b]) for votes in shared.values() if a in votes and b in votes]
        result["method"], result["kappa"] = "cohen", cohen_kappa(pairs)
    else:
        result["method"] = "fleiss"
        result["kappa"], _ = fleiss_kappa([Counter(v.values()) for v in shared.values()], list(CHOICES))
    return result


# --- open mode: both answers side by side, not blind ----------------------------------


def open_items(store: Store, review: Review) -> list[dict]:
    """Every input with each system's answer, named: for browsing, not for voting."""
    by_item: dict[str, dict] = {}
    for generation in store.list_generations(review.project_id, review.settings_key, review.systems):
        entry = by_item.setdefault(generation.item_key, {"item_key": generation.item_key, "input": generation.input,
                                                         "reference": generation.reference, "answers": {}})
        entry["answers"][generation.system] = generation.output
    return list(by_item.values())


def word_diff(first: str, second: str, only_first: str = "only in A",
              only_second: str = "only in B") -> list[tuple[str, str | None]]:
    """Words of both answers in reading order, marked as only in the first or only in the second where they differ."""
    tokens_a, tokens_b = re.findall(r"\S+|\s+", first or ""), re.findall(r"\S+|\s+", second or "")
    marked: list[tuple[str, str | None]] = []
    for tag, a_start, a_end, b_start, b_end in difflib.SequenceMatcher(None, tokens_a, tokens_b,
                                                                        autojunk=False).get_opcodes():
        if tag == "equal":
            marked.append(("".join(tokens_a[a_start:a_end]), None))
            continue
        if a_end > a_start:
            marked.append(("".join(tokens_a[a_start:a_end]), only_first))
        if b_end > b_start:
            marked.append(("".join(tokens_b[b_start:b_end]), only_second))
    return marked
