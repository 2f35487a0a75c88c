"""Corrections: after a blind vote, the reviewer writes the right answer, and it flows back as training data.

The reviewer edits the better answer (or, both bad, writes the right one); the text becomes an accepted example of
the project (origin "correction") on the item the pair's input came from (a typed prompt gets an item of its own),
linked to the rating and the system(s) corrected. The next freeze takes it like any accepted example: the latest
accepted text of an item wins. Offered only after the vote, for the reviewer's own rating: by then the systems'
names are revealed, so a correction never unblinds a pair still to be voted on.

Who may correct: whoever may vote (the "review" role; see access.ACTIONS["correct"]): the reviewer who just read
both answers closely is the one who knows what the right one says.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftstudio.evaluation.systems import EvaluationError
from ftstudio.importing import content_hash
from ftstudio.ingest.records import RawRecord
from ftstudio.labeling import LabelingError, edit_record, validate_example
from ftstudio.store import Correction, NewItem, Review, Store

MAX_CORRECTION_CHARS = 20_000


@dataclass
class CorrectionStart:
    """What a correction starts from: the pair's input, the better answer to edit ("" when both were bad), and
    the systems whose answers the correction will count against."""

    rating_id: int
    input: str
    answer: str
    systems: list[str]
    generation_id: int | None


def correction_start(store: Store, rating_id: int, reviewer: str) -> CorrectionStart:
    """The answer to edit after the reviewer's vote `rating_id`: the winner's, the left one on a tie, none when
    both were bad. Only the reviewer who voted may correct it."""
    rating = store.get_rating(int(rating_id)) if rating_id not in (None, "") else None
    if rating is None or rating.rater != (reviewer or "").strip():
        raise EvaluationError("Vote on a pair first: a correction follows your own vote on it.")
    first, second = store.get_generation(rating.generation_a), store.get_generation(rating.generation_b)
    if rating.winner in ("a", "b"):
        better = first if rating.winner == "a" else second
        return CorrectionStart(rating.id, better.input, better.output or "", [better.system], better.id)
    shown = first if rating.shown_left == first.id else second
    if rating.winner == "tie":
        return CorrectionStart(rating.id, shown.input, shown.output or "", [first.system, second.system], shown.id)
    return CorrectionStart(rating.id, first.input, "", [first.system, second.system], None)


def _item_for(store: Store, project_id: int, example_id: int | None, input_text: str) -> tuple[int | None,
                                                                                              NewItem | None]:
    """The item the pair's input came from; for a typed prompt, the project's item with that text, else a new one."""
    example = store.get_example(example_id) if example_id is not None else None
    if example is not None and example.item_id is not None:
        return example.item_id, None
    digest = content_hash(RawRecord(text=input_text, source="review correction", kind="row"))
    found = store.find_item_by_hash(project_id, digest)
    return (found, None) if found is not None else (None, NewItem(digest, input_text))


def correct_answer(store: Store, rating_id: int, reviewer: str, text: str) -> Correction:
    """Save the reviewer's right answer for the pair they voted on as an accepted example of the project."""
    start = correction_start(store, rating_id, reviewer)
    text = (text or "").strip()
    if not text:
        raise EvaluationError("The correction is empty: write the right answer first.")
    if len(text) > MAX_CORRECTION_CHARS:
        raise EvaluationError(f"The correction is {len(text):,} characters; keep it under "
                              f"{MAX_CORRECTION_CHARS:,}.")
    if start.answer and text == start.answer.strip():
        raise EvaluationError("The text is the answer as it was: edit it into the right answer, or leave it.")
    rating = store.get_rating(start.rating_id)
    review = store.get_review(rating.review_id)
    project = store.get_project(review.project_id)
    label = text if project.task_type == "classification" else None
    try:
        validate_example(project, start.input, text, label)
    except LabelingError as error:
        raise EvaluationError(str(error)) from None
    previous = store.correction_for_rating(rating.id)
    if previous is not None:  # a second thought: the same example, its earlier text kept in its history
        store.update_example(previous.example_id, reviewer.strip(), output=text, label=label)
        return previous
    generation = store.get_generation(start.generation_id or rating.generation_a)
    item_id, new_item = _item_for(store, project.id, generation.example_id, start.input)
    draft = edit_record(start.answer, text)
    return store.save_correction(project.id, item_id, new_item, reviewer.strip(), start.input, text, label,
                                 {"output": draft} if draft else None, rating, start.generation_id, start.systems)


def corrections_by_system(store: Store, review: Review) -> dict[str, int]:
    """How many corrections each system's answers needed in this review (every system of it, 0 included)."""
    counts = {name: 0 for name in review.systems}
    for correction in store.list_corrections(review.project_id, review.id):
        for name in correction.systems:
            counts[name] = counts.get(name, 0) + 1
    return counts


def last_vote(store: Store, review: Review, reviewer: str) -> CorrectionStart | None:
    """What the reviewer's latest vote in this review offers to correct; None before their first vote."""
    reviewer = (reviewer or "").strip()
    mine = [rating for rating in store.list_ratings(review.id) if rating.rater == reviewer]
    return correction_start(store, mine[-1].id, reviewer) if mine else None
