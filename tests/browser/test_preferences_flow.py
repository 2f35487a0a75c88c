"""The loop from the browser: votes become a preference version, DPO trains from the Train tab with its reward
curves, and the Review tab puts the DPO run blind against the run it started from."""

import pytest

from ftstudio.evaluation.compare import generate_and_review
from tests.browser.conftest import SHOTS, open_app
from tests.evaluation_fixtures import FakeBackend, finished_run
from tests.test_preferences import vote_by_script

pytestmark = pytest.mark.browser


def test_votes_to_dpo_to_a_blind_review_against_its_start(live_app, page, settings, tiny_model_dir, tmp_path):
    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
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

    page.get_by_role("tab", name="Train").click()
    page.locator("#train-version input").click()
    page.get_by_role("option", name="v2 · preference pairs").click()
    page.locator("#train-objective-note").get_by_text("holds preference pairs").wait_for()
    page.wait_for_function("document.querySelector('#train-objective input[value=dpo]')?.checked")
    page.locator("#train-from-run input").click()
    page.get_by_role("option", name=f"run {run.id} (lora on v1)").click()
    page.get_by_label("max steps").fill("4")
    page.get_by_label("max prompt length").fill("64")
    page.get_by_label("max completion length").fill("32")
    page.locator("#train-start").click()
    page.locator("#train-notice").get_by_text("started").wait_for()
    # The new run's own line: until the run picker follows it, the progress line may still be run 1's "finished".
    page.locator("#run-progress").get_by_text(f"Run {run.id + 1} · finished").wait_for(timeout=180_000)
    page.locator("#run-rewards .js-plotly-plot").wait_for()
    page.screenshot(path=str(SHOTS / "train-dpo.png"), full_page=True)
    dpo = store.list_runs(project.id)[0]
    assert dpo.method == "dpo" and dpo.status == "finished" and dpo.config["from_run"] == run.id

    page.get_by_role("tab", name="Review").click()
    page.locator("#review-run input").click()
    page.get_by_role("option", name=f"run {dpo.id} (dpo on v2)").click()
    page.wait_for_function("document.querySelectorAll('#review-systems input:checked').length === 3")
    page.locator("#generate-answers").click()
    page.locator("#generate-notice").get_by_text("blind pairs are ready").wait_for(timeout=180_000)
    loop_review = store.list_reviews(project.id, dpo.id)[0]
    assert loop_review.systems == [dpo.system, run.system, "base"]
    page.screenshot(path=str(SHOTS / "review-dpo.png"), full_page=True)
