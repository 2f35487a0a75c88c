"""One rule turns votes into preference pairs, whichever path asks: the Results tab's export and `report --export`
(report.preference_pairs), the Datasets tab and `ftstudio preferences` (collect_preferences). Two answers with the
same words never become a pair."""

import json
import subprocess
import sys

from ftstudio.evaluation import report
from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.preference_pairs import PreferenceFilters, collect_preferences
from ftstudio.store.review import GENERATION_COLUMNS
from ftstudio.versions import SplitPlan, freeze_preference_rows
from tests.evaluation_fixtures import FakeBackend, finished_run
from tests.test_preferences import vote_by_script


def cli(home, *args):
    return subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=300)


def triples(pairs) -> set[tuple[str, str, str]]:
    return {(pair["prompt"], pair["chosen"], pair["rejected"]) for pair in pairs}


def test_disagreeing_reviewers_give_the_same_pairs_on_every_path(store, settings, tiny_model_dir, tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=20)
    review = generate_and_review(store, settings, run, backend=FakeBackend(), split="train", overlap=2).review
    keys = sorted({pair.item_key for pair in store.review_pairs(review.id)})
    # Per item, what ana and ben pick: they agree on a third of the items and disagree on another third.
    plan = {key: [("run", "run"), ("run", "base"), ("base", "tie")][index % 3] for index, key in enumerate(keys)}

    def decide_for(person: int):
        def decide(item_key, left, right):
            wanted = plan[item_key][person]
            if wanted == "tie":
                return "tie"
            return "a" if left == (run.system if wanted == "run" else "base") else "b"
        return decide

    vote_by_script(store, review, "ana", decide_for(0))
    vote_by_script(store, review, "ben", decide_for(1))
    disagreeing = sum(1 for votes in plan.values() if votes == ("run", "base"))
    assert disagreeing

    datasets_tab = collect_preferences(store, project, PreferenceFilters())
    results_tab = report.preference_pairs(store, review)
    assert datasets_tab.left_out["reviewers_disagree"] == disagreeing
    assert len(results_tab) == len(datasets_tab.pairs) == len(keys) - disagreeing
    assert triples(results_tab) == triples(datasets_tab.pairs)
    # Before the fix the report made a pair from every rating: both directions for each disagreement.
    assert not {(p, r, c) for p, c, r in triples(results_tab)} & triples(results_tab)

    store.close()  # the CLI is the writer now, as when no app is running
    exported = cli(settings.home, "report", "--run", str(run.id), "--export", str(tmp_path / "report"))
    assert exported.returncode == 0, exported.stderr
    lines = (tmp_path / "report" / f"review-{review.id}-preferences.jsonl").read_text().splitlines()
    frozen = cli(settings.home, "preferences", "--project", project.name, "--freeze", "--split", "1,0,0",
                 "--json")
    assert frozen.returncode == 0, frozen.stderr
    version = json.loads(frozen.stdout)["name"]
    written = cli(settings.home, "export", "--project", project.name, "--version", version, "--format", "jsonl",
                  str(tmp_path / "prefs"))
    assert written.returncode == 0, written.stderr
    from_cli = [json.loads(line) for line in (tmp_path / "prefs" / "train.jsonl").read_text().splitlines()]
    assert triples(json.loads(line) for line in lines) == triples(from_cli) == triples(datasets_tab.pairs)


def _twin_review(store, project, generation):
    """A review of one pair whose two answers have the same words (one with extra spaces)."""
    twin = {column: getattr(generation, column) for column in GENERATION_COLUMNS}
    twin.update(cache_key=generation.cache_key + "-twin", system="twin", output=f"  {generation.output}  ")
    store.add_generations([twin])
    twin_id = next(g.id for g in store.list_generations(project.id, generation.settings_key, ["twin"]))
    review = store.create_review(project.id, None, [generation.system, "twin"], generation.settings_key)
    store.add_review_pairs(review.id, [(generation.item_key, generation.id, twin_id, 0.0)])
    return review


def test_identical_answers_never_become_preference_pairs(store, settings, tiny_model_dir, tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=10)
    generated = generate_and_review(store, settings, run, backend=FakeBackend(), split="train")
    review = _twin_review(store, project, generated.generations[0])
    # A vote cast on it (as before blind review stopped queueing such pairs, or in an older studio).
    assignment = store.assign_next_pair(review.id, "ana", "token-1", True, 600, 1)
    store.record_rating(assignment, "a", None, None, None)

    candidates = collect_preferences(store, project, PreferenceFilters(review_ids=[review.id]))
    assert candidates.pairs == [] and candidates.left_out["identical_answers"] == 1
    assert "Left out 1: the two answers had the same words" in candidates.describe()
    assert report.preference_pairs(store, review) == []

    rows = [{"input": "q", "prompt": "Where?", "chosen": "Here.", "rejected": "Here. ", "source": "file"},
            {"input": "q", "prompt": "When?", "chosen": "Now.", "rejected": "Later.", "source": "file"}]
    version = freeze_preference_rows(store, project, rows, SplitPlan((1.0, 0.0, 0.0)), name="from-rows")
    assert [(row.chosen, row.rejected) for row in store.preference_rows(version.id)] == [("Now.", "Later.")]
    assert version.counts["identical_left_out"] == 1
