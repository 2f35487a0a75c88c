"""Corrections after a blind vote: the reviewer's right answer becomes an accepted example of the project (on the
pair's item, or a new item for a typed prompt), marked as a correction of that pair, counted per system in the
report, and frozen with the next version; from the terminal, `c` and a line of text after a vote."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ftstudio.evaluation import report
from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.corrections import correct_answer, correction_start
from ftstudio.evaluation.review import next_pair, vote
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.labeling import recent_examples
from ftstudio.templates import Template
from ftstudio.versions import freeze_version
from tests.evaluation_fixtures import FakeBackend, finished_run

RIGHT = "Pallet 3 is in depot 0, bay 12."


def test_a_correction_becomes_an_accepted_example_and_lands_in_the_next_freeze(store, settings, tiny_model_dir,
                                                                              tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    pair = next_pair(store, review, "ana")
    with pytest.raises(EvaluationError, match="Vote on a pair first"):  # before the vote: nothing to correct
        correct_answer(store, None, "ana", RIGHT)
    revealed = vote(store, pair.token, "ana", "b")
    start = correction_start(store, revealed.rating_id, "ana")
    assert start.answer == pair.answer_b and start.input == pair.input  # the better answer, to edit
    with pytest.raises(EvaluationError, match="your own vote"):  # another reviewer's vote is not theirs to correct
        correct_answer(store, revealed.rating_id, "ben", RIGHT)
    with pytest.raises(EvaluationError, match="as it was"):
        correct_answer(store, revealed.rating_id, "ana", pair.answer_b)

    saved = correct_answer(store, revealed.rating_id, "ana", RIGHT)
    example = store.get_example(saved.example_id)
    assert (example.status, example.origin, example.output, example.input) == ("accepted", "correction", RIGHT,
                                                                              pair.input)
    generation = store.get_generation(start.generation_id)
    assert example.item_id == store.get_example(generation.example_id).item_id  # the item the prompt came from
    assert saved.rating_id == revealed.rating_id and saved.systems == [generation.system]
    assert example.draft["output"]["draft"] == pair.answer_b  # the answer it corrected, and how much changed
    assert recent_examples(store, project)[0]["origin"] == "correction"

    results = report.full_results(store, review)
    assert results.corrections == {name: int(name == generation.system) for name in review.systems}
    assert json.loads(json.dumps(results.to_dict()))["corrections"][generation.system] == 1

    version = freeze_version(store, project, Template("chat"))
    rows = store.version_rows(version.id)
    assert [row.output for row in rows if row.input == pair.input] == [RIGHT]  # the correction replaced the old text


def test_both_bad_counts_against_both_and_a_typed_prompt_gets_an_item(store, settings, tiny_model_dir, tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    items_before = store.count_items(project.id)
    review = generate_and_review(store, settings, run, split=None, prompts=["Where is pallet 999 today?"],
                                 backend=FakeBackend()).review
    pair = next_pair(store, review, "ana")
    revealed = vote(store, pair.token, "ana", "x")
    assert correction_start(store, revealed.rating_id, "ana").answer == ""  # both bad: written anew
    saved = correct_answer(store, revealed.rating_id, "ana", "Pallet 999 is not in our depots.")
    assert sorted(saved.systems) == sorted(review.systems) and saved.generation_id is None
    example = store.get_example(saved.example_id)
    assert store.count_items(project.id) == items_before + 1
    assert store.get_item(example.item_id).text == "Where is pallet 999 today?"
    again = correct_answer(store, revealed.rating_id, "ana", "Pallet 999 was never ours.")  # a second thought
    assert again.example_id == saved.example_id
    assert store.get_example(saved.example_id).output == "Pallet 999 was never ours."
    assert report.full_results(store, review).corrections == {name: 1 for name in review.systems}


def test_review_in_the_terminal_takes_c_and_a_line_of_corrected_text(store, settings, tiny_model_dir, tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    generate_and_review(store, settings, run, backend=FakeBackend())
    store.close()
    done = subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(settings.home), "review", "--run",
                           str(run.id), "--user", "ana"], input=f"a\nc\n{RIGHT}\nq\n", capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Correction saved as accepted example" in done.stdout
    from ftstudio.store import open_store

    reopened = open_store(settings.database_path)
    try:
        corrected = [e for e in reopened.list_examples(project.id) if e.origin == "correction"]
        assert [(e.output, e.created_by) for e in corrected] == [(RIGHT, "ana")]
        review = reopened.list_reviews(project.id)[0]  # what `report --json` prints under "corrections"
        assert sum(report.full_results(reopened, review).to_dict()["corrections"].values()) == 1
    finally:
        reopened.close()
