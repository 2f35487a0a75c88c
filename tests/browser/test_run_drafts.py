"""The Label tab drafts with a finished run of the project (in process, no server): the expert keeps or corrects
the draft, the example records which run drafted it and how much was changed, and Results counts it."""

import pytest

from ftstudio.importing import import_paths
from tests.browser.conftest import SHOTS, open_app
from tests.evaluation_fixtures import finished_run

pytestmark = pytest.mark.browser


def test_a_finished_run_drafts_the_next_labels(live_app, settings, tiny_model_dir, page, tmp_path):
    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    posts = tmp_path / "posts.md"
    posts.write_text("Pallet 4 is in the north depot.\n")
    import_paths(store, project, [posts])
    store.update_project(project.id, settings={"drafting": {"kind": "run", "run_id": run.id}})

    open_app(page, url)
    page.locator("#annotator textarea, #annotator input").first.fill("ana")
    page.keyboard.press("Tab")
    page.get_by_role("tab", name="Label").click()
    page.wait_for_function("document.querySelector('#label-output textarea')?.value.includes('Pallet 4')")
    page.get_by_text("Drafting model", exact=True).click()
    page.wait_for_function(f"document.querySelector('#drafter-run input')?.value.includes('{run.id}')")
    # The input is empty: the run's draft lands in it.
    page.locator("#draft-input").click()
    page.wait_for_function("document.querySelector('#label-input textarea').value.length > 0", timeout=120_000)
    # The output is the post itself: the run's draft of it is offered beside it, and used when asked.
    page.locator("#draft-output").click()
    page.locator("#draft-row").wait_for(timeout=120_000)
    offered = page.locator("#draft-text textarea").input_value()
    page.locator("#use-draft").click()
    page.wait_for_function("(t) => document.querySelector('#label-output textarea').value === t", arg=offered)
    page.locator("#label-output textarea").fill(offered + " Corrected.")
    page.locator("#label-accept").click()
    page.locator("#label-notice").get_by_text("Saved as accepted").wait_for()

    example = next(e for e in store.list_examples(project.id, "accepted") if e.draft)
    assert example.draft["input"]["model"] == example.draft["output"]["model"] == run.system
    assert example.draft["input"]["changed"] == 0 and 0 < example.draft["output"]["changed"] < 1

    page.get_by_role("tab", name="Results").click()
    page.get_by_text("Drafts: how much people change each model's drafts").click()
    page.locator("#draft-results-refresh").click()
    page.wait_for_function("(name) => document.querySelector('#draft-results-table').innerText.includes(name)",
                           arg=run.system)
    page.screenshot(path=str(SHOTS / "label-run-drafts.png"), full_page=True)
