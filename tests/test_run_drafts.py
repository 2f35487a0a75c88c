"""A finished run drafts labels in process with its own template (so a draft reads as its review answer), the
example records which model drafted it, and per drafting model the share kept unchanged and the median edit."""

from __future__ import annotations

from ftstudio import labeling
from ftstudio.importing import import_paths
from tests.evaluation_fixtures import finished_run


def test_a_run_drafts_as_it_answers_in_review(store, settings, tiny_model_dir, tmp_path):
    from ftstudio.shipping.drafters import RunDrafters
    from ftstudio.shipping.engine import AdapterEngine
    from ftstudio.shipping.served import serving_manifest
    from ftstudio.templates import Template

    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, template=Template("chat", system="Be brief."))
    drafters = RunDrafters()
    generate = drafters.generate_function(store, run)
    drafts = generate(["Where is pallet 3?", "Where is pallet 5?"])
    engine = AdapterEngine(serving_manifest(store, run))
    prompt = engine.prompt(run.system, [{"role": "user", "content": "Where is pallet 3?"}])
    assert "Be brief." in prompt  # the run's own system prompt
    assert drafts[0] == engine.generate(run.system, [prompt], [160])[0].text
    base = engine.generate("base", [prompt], [160])[0].text
    assert drafts[0] != base  # the adapter drafted, not the bare base model
    # A second run of the same base model drafts from the same loaded base weights.
    _, other = finished_run(store, settings, tiny_model_dir, tmp_path, name="Other")
    drafters.generate_function(store, other)(["Hi"])
    assert len(drafters._engines) == 1  # noqa: SLF001 - the count of loaded base models is the point


def test_drafts_record_their_model_and_how_each_model_fares(store, tmp_path):
    project = store.create_project("Drafted", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("\n---\n".join(f"Post {n}: forecasts beat gut feeling, take {n}." for n in range(4)))
    import_paths(store, project, [posts])
    outcomes = [("run-1", "Kept as drafted."), ("run-1", "Kept as drafted."), ("run-1", "Rewritten entirely, yes."),
                ("base", "Something else")]
    for model, final in outcomes:
        task = labeling.next_task(store, project, "ana")
        labeling.decide(store, project, "ana", task.item.id, "accepted", "A request", final,
                        output_draft={"text": "Kept as drafted.", "model": model})
    recorded = [e.draft["output"] for e in store.list_examples(project.id, "accepted")]
    assert [r["model"] for r in recorded] == ["run-1", "run-1", "run-1", "base"]
    assert recorded[0]["changed"] == 0 and recorded[2]["changed"] > 0.3
    rows = {row["model"]: row for row in labeling.draft_acceptance(store, project)}
    assert rows["run-1"]["drafts"] == 3 and abs(rows["run-1"]["unchanged"] - 2 / 3) < 1e-9
    assert rows["run-1"]["median_change"] == 0 and rows["base"]["unchanged"] == 0 and rows["base"]["median_change"] > 0.5
