"""Training from the browser: pick a version, start, watch the live curve reach the end, compare."""

import json

import pytest

from ftstudio.importing import import_paths
from ftstudio.templates import Template
from ftstudio.versions import SplitPlan, freeze_version
from tests.browser.conftest import SHOTS, open_app

pytestmark = pytest.mark.browser


def test_train_from_the_browser_with_a_live_curve(live_app, page, tmp_path):
    url, store = live_app
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Where is pallet {n}?", "response": f"In depot {n % 3}."})
                               for n in range(24)))
    project = store.create_project("Replies", "generation")
    import_paths(store, project, [pairs])
    freeze_version(store, project, Template("chat"), SplitPlan((0.75, 0.25, 0.0)))

    open_app(page, url)
    page.get_by_role("tab", name="Train").click()
    page.wait_for_function("document.querySelector('#train-version input')?.value === 'v1'")
    steps = page.get_by_label("max steps")
    steps.fill("8")
    page.get_by_label("max length").fill("256")
    page.locator("#train-start").click()
    page.locator("#train-notice").get_by_text("started").wait_for()
    page.locator("#run-progress").get_by_text("finished").wait_for(timeout=180_000)
    assert "step 8 of 8 (100%)" in page.locator("#run-progress").inner_text()
    page.locator("#run-curve .js-plotly-plot").wait_for()
    assert "finished" in page.locator("#runs-table").inner_text()
    page.screenshot(path=str(SHOTS / "train-tab.png"), full_page=True)
    # The settings this run started with come back after a reload.
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("tab", name="Train").click()
    page.wait_for_function("document.querySelector('#train-version input')?.value === 'v1'")
    assert page.get_by_label("max steps").input_value() == "8" and page.get_by_label("max length").input_value() == "256"
    run = store.list_runs(project.id)[0]
    assert run.status == "finished" and run.step == 8 and run.created_by is None
