"""The loop from the browser: votes (cast by script here) become a preference version in the Datasets tab.

DPO training from that version in the Train tab (its reward curves, its start run) and the Review tab putting the
DPO run blind against the run it started from are walked, on the same path, by tests/browser/test_dpo_loop.py
(stages 4 and 5), with the run it trains there: one DPO child run in the suite, not two."""

import pytest

from ftstudio.evaluation.compare import generate_and_review
from tests.browser.conftest import SHOTS, open_app
from tests.evaluation_fixtures import FakeBackend, finished_run
from tests.test_preferences import vote_by_script

pytestmark = pytest.mark.browser


def test_votes_become_a_preference_version_in_the_datasets_tab(live_app, page, settings, tiny_model_dir, tmp_path):
    url, store = live_app
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    review = generate_and_review(store, settings, run, backend=FakeBackend(), split="train").review
    vote_by_script(store, review, "ana", lambda key, left, right: "a" if left == run.system else "b")

    open_app(page, url)
    page.get_by_role("tab", name="Datasets").click()
    page.locator("#preferences-panel").get_by_text("Preference pairs for DPO").click()
    page.locator("#preferences-count").click()
    page.locator("#preferences-notice").get_by_text("from people's votes").wait_for()
    assert "preference pairs" in page.locator("#preferences-notice").inner_text()
    page.locator("#preferences-freeze").click()
    page.locator("#preferences-notice").get_by_text("Froze preference version v2").wait_for()
    page.wait_for_function("document.querySelector('#versions-table')?.innerText.includes('preference pairs')")
    page.locator("#preferences-panel").screenshot(path=str(SHOTS / "datasets-preferences.png"))
