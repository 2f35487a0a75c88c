"""A reviewer's correction in real Chromium: vote in the Review tab, correct the better answer, and find it in the
Label tab's history marked as a correction."""

import pytest

from tests.browser.conftest import SHOTS, open_app
from tests.evaluation_fixtures import FakeBackend, finished_run

pytestmark = pytest.mark.browser

RIGHT = "Pallet 5 sits in depot 2, bay 9."


def test_a_correction_made_in_the_review_tab_shows_in_the_label_tabs_history(live_app, settings, tiny_model_dir,
                                                                             page, tmp_path):
    from ftstudio.evaluation.compare import generate_and_review

    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    generate_and_review(store, settings, run, backend=FakeBackend())  # answers made here: the browser only votes
    open_app(page, url)
    page.locator("#annotator textarea, #annotator input").first.fill("olivia")
    page.keyboard.press("Tab")
    page.get_by_role("tab", name="Review").click()
    page.wait_for_function("document.querySelector('#review-run input')?.value.length > 0")
    assert not page.locator("#correction-panel").is_visible()  # nothing to correct before a vote
    page.locator("#review-start").click()
    page.locator("#review-counter").get_by_text("Pair 1 for you").wait_for()
    page.locator("#vote-b").click()
    page.locator("#review-reveal").get_by_text("A was").wait_for()
    page.get_by_text("Correct the answer you just voted on").click()
    box = page.locator("#correction-text textarea")
    page.wait_for_function("document.querySelector('#correction-text textarea')?.value.length > 0")
    box.fill(RIGHT)
    page.locator("#correction-save").click()
    page.locator("#correction-notice").get_by_text("Saved as accepted example").wait_for()
    page.screenshot(path=str(SHOTS / "review-correction.png"), full_page=True)

    page.get_by_role("tab", name="Label").click()
    page.get_by_text("History: the latest").click()
    table = page.locator("#label-history-table")
    page.wait_for_function("text => document.querySelector('#label-history-table')?.innerText.includes(text)",
                           arg=RIGHT)
    assert "correction" in table.inner_text() and "olivia" in table.inner_text()
    page.screenshot(path=str(SHOTS / "label-history-correction.png"), full_page=True)
    corrected = [e for e in store.list_examples(project.id) if e.origin == "correction"]
    assert [e.output for e in corrected] == [RIGHT]
    page.get_by_role("tab", name="Results").click()  # and the Results tab counts it against the run
    page.locator("#results-corrections").get_by_text(f"run {run.id}").wait_for()
    assert ": 1" in page.locator("#results-corrections").inner_text()
