from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ftstudio import labeling
from ftstudio.importing import import_paths
from ftstudio.labeling import LabelingError, agreement, cohen_kappa, decide, fleiss_kappa, next_task, undo
from collections import Counter


def posts_project(store, tmp_path, count=6, task="generation", labels=None, settings=None):
    project = store.create_project(f"p-{task}-{count}", task, labels=labels)
    if settings:
        project = store.update_project(project.id, settings=settings)
    posts = tmp_path / f"posts-{task}-{count}.md"
    posts.write_text("\n---\n".join(f"Post {n}: forecasts beat gut feeling, take {n}." for n in range(count)))
    import_paths(store, project, [posts])
    return project


def test_generation_queue_prefills_output_and_records_the_annotator(store, tmp_path):
    project = posts_project(store, tmp_path)
    task = next_task(store, project, "ana")
    assert task.output.startswith("Post ") and task.input == ""
    with pytest.raises(LabelingError, match="input is empty"):
        decide(store, project, "ana", task.item.id, "accepted", "", task.output)
    example_id = decide(store, project, "ana", task.item.id, "accepted", "A post about forecasts", task.output)
    example = store.get_example(example_id)
    assert example.created_by == "ana" and example.created_at is not None
    assert store.labeling_counts(project.id, "ana", 1) == {"items": 6, "done": 1, "left": 5, "mine": 1, "flagged": 0}


def test_two_annotators_never_get_the_same_item_and_leases_expire(store, tmp_path):
    project = posts_project(store, tmp_path, count=3, settings={"lease_seconds": 60})
    ana = store.lease_next_item(project.id, "ana", 60, 1)
    ben = store.lease_next_item(project.id, "ben", 60, 1)
    assert ana != ben
    assert store.lease_next_item(project.id, "ana", 60, 1) == ana  # a reload resumes the same item
    # Ana walks away; once her lease has expired, Ben may get her item.
    later = datetime.now() + timedelta(seconds=120)
    decide(store, project, "ben", ben, "accepted", "idea", "post")
    assert store.lease_next_item(project.id, "ben", 60, 1, now=later) == ana  # her lease expired: free again
    last = store.lease_next_item(project.id, "cleo", 60, 1, now=later)
    assert last not in (ana, ben)
    assert store.lease_next_item(project.id, "dan", 60, 1, now=later) is None  # all leased or done
    assert store.lease_next_item(project.id, "ana", 60, 1, now=later) is None


def test_skip_flag_and_undo(store, tmp_path):
    project = posts_project(store, tmp_path, count=3)
    first = next_task(store, project, "ana")
    decide(store, project, "ana", first.item.id, "skipped")
    second = next_task(store, project, "ana")
    assert second.item.id != first.item.id
    decide(store, project, "ana", second.item.id, "flagged")
    again = undo(store, project, "ana")
    assert again.item.id == second.item.id
    assert next_task(store, project, "ana").item.id == second.item.id
    assert store.labeling_counts(project.id, "ana", 1)["flagged"] == 0


def test_undo_brings_back_what_was_accepted(store, tmp_path):
    project = posts_project(store, tmp_path, count=2)
    task = next_task(store, project, "ana")
    decide(store, project, "ana", task.item.id, "accepted", "The idea I typed", task.output + " (edited)")
    back = undo(store, project, "ana")
    assert back.item.id == task.item.id
    assert back.input == "The idea I typed" and back.output == task.output + " (edited)"
    assert store.list_examples(project.id) == []  # the decision is taken back, kept only in history


def test_editing_an_accepted_example_keeps_its_history(store, tmp_path):
    project = posts_project(store, tmp_path, count=1)
    task = next_task(store, project, "ana")
    example_id = decide(store, project, "ana", task.item.id, "accepted", "first idea", task.output)
    store.update_example(example_id, "ben", input="better idea")
    history = store.example_history(example_id)
    assert history[0].previous["input"] == "first idea" and history[0].changed_by == "ben"
    assert store.get_example(example_id).input == "better idea"


def test_classification_needs_a_known_label_and_structured_needs_valid_json(store, tmp_path):
    project = posts_project(store, tmp_path, count=2, task="classification", labels=["phishing", "legitimate"])
    task = next_task(store, project, "ana")
    with pytest.raises(LabelingError, match="Pick a label"):
        decide(store, project, "ana", task.item.id, "accepted", task.input, "", None)
    with pytest.raises(LabelingError, match="not one of"):
        decide(store, project, "ana", task.item.id, "accepted", task.input, "", "spam")
    decide(store, project, "ana", task.item.id, "accepted", task.input, "", "phishing")
    schema = {"type": "object", "required": ["sender"], "properties": {"sender": {"type": "string"}}}
    structured = store.create_project("s", "structured", json_schema=schema)
    with pytest.raises(LabelingError, match="not valid JSON"):
        labeling.validate_example(structured, "text", "{nope", None)
    with pytest.raises(LabelingError, match="schema"):
        labeling.validate_example(structured, "text", '{"other": 1}', None)
    labeling.validate_example(structured, "text", '{"sender": "ana"}', None)


def test_drafts_record_how_much_the_expert_changed_them(store, tmp_path):
    project = posts_project(store, tmp_path, count=1)
    task = next_task(store, project, "ana")
    fake_model = lambda prompts: ["Write about forecasts"] * len(prompts)  # noqa: E731 - the generate protocol
    draft = labeling.draft_input(fake_model, task.output)
    example_id = decide(store, project, "ana", task.item.id, "accepted", draft + " and gut feeling", task.output,
                        input_draft=draft)
    recorded = store.get_example(example_id).draft
    assert recorded["input"]["draft"] == "Write about forecasts" and 0 < recorded["input"]["changed"] < 1


def test_overlap_gives_each_item_to_k_annotators_and_agreement_is_computed(store, tmp_path):
    project = posts_project(store, tmp_path, count=4, task="classification", labels=["yes", "no"],
                            settings={"overlap": 2})
    answers = {"ana": ["yes", "no", "yes", "no"], "ben": ["yes", "no", "no", "no"]}
    for user, labels in answers.items():
        for label in labels:
            task = next_task(store, project, user)
            decide(store, project, user, task.item.id, "accepted", task.input, "", label)
        assert next_task(store, project, user) is None
    result = agreement(store, project)
    assert result["method"] == "cohen" and result["items"] == 4
    assert result["overall"] == pytest.approx(cohen_kappa(list(zip(answers["ana"], answers["ben"]))))
    assert result["overall"] == pytest.approx(0.5)


def test_kappa_values_match_known_results():
    # Fleiss (1971)-style check: perfect agreement is 1, and a textbook table gives its published value.
    perfect = [Counter({"a": 3}), Counter({"b": 3}), Counter({"a": 3})]
    assert fleiss_kappa(perfect, ["a", "b"])[0] == pytest.approx(1.0)
    # Wikipedia's worked example of Fleiss' kappa: 10 subjects, 14 raters, 5 categories -> 0.210.
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = [Counter({str(c): n for c, n in enumerate(row) if n}) for row in table]
    overall, per_category = fleiss_kappa(ratings, [str(c) for c in range(5)])
    assert overall == pytest.approx(0.210, abs=0.001)
    assert cohen_kappa([("a", "a"), ("b", "b"), ("a", "b"), ("b", "a")]) == pytest.approx(0.0)


def test_drafts_come_back_trimmed_without_the_models_preamble():
    from ftstudio.drafting import trim_draft

    answer = "  Sure! Here's a response that meets your request:\n\n  Forecasts beat gut feeling.  \n"
    chatty = lambda prompts: [answer]  # noqa: E731 - the generate protocol
    assert labeling.draft_output(chatty, "Write about forecasts") == "Forecasts beat gut feeling."
    assert labeling.draft_input(chatty, "A post") == "Forecasts beat gut feeling."
    assert trim_draft('  "Write about forecasts."\n') == "Write about forecasts."
    long = "One sentence here. " * 20 + "And a last sentence that goes on and on"
    cut = trim_draft(long, 100)
    assert len(cut) <= 100 and cut.endswith("here.")
    words = trim_draft("word " * 50, 23)
    assert words == "word word word word" and len(words) <= 23
    assert trim_draft("Here is nothing else") == "Here is nothing else"  # no colon: not an announcement


def test_the_drafting_choice_reads_old_and_new_settings(monkeypatch):
    from ftstudio.drafting import DraftingChoice, hub_offline, is_embedded_base

    old = DraftingChoice.from_settings({"base_url": "http://localhost:8000/v1", "model": "teacher"})
    assert (old.kind, old.base_url, old.model) == ("endpoint", "http://localhost:8000/v1", "teacher")
    run = DraftingChoice.from_settings({"kind": "run", "run_id": 3})
    assert run.kind == "run" and run.run_id == 3 and DraftingChoice.from_settings(run.to_settings()) == run
    assert DraftingChoice.from_settings(None).kind == "base" and DraftingChoice().to_settings() == {}
    assert is_embedded_base("embedded:SmolLM2-135M-Instruct") and not is_embedded_base("/models/qwen")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_offline()  # decided from the setting alone: nothing is fetched
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert hub_offline()  # never probed: offline unless told otherwise
    monkeypatch.setenv("SPACE_ID", "team/studio")
    assert not hub_offline()  # a Space is online
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not hub_offline()


def test_a_finished_run_drafts_through_its_adapter(store, settings, tiny_model_dir, tmp_path):
    from ftstudio.drafting import LocalDrafters
    from ftstudio.evaluation.generations import tuned_system
    from tests.evaluation_fixtures import finished_run

    _, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    drafters = LocalDrafters(settings.model_cache)
    generate = drafters.generate_function(run.base_model, tuned_system(store, run).adapter_dir)
    draft = labeling.draft_output(generate, "Where is pallet 3?")
    assert isinstance(draft, str) and draft == draft.strip()
    # Asked again, the same loaded model answers: it is loaded once per app.
    again = drafters.generate_function(run.base_model, tuned_system(store, run).adapter_dir)
    assert again.__self__ is generate.__self__
