"""Blind review in real Chromium: base and tuned answers ready (made by a fake backend through the real review
code: generating them from the Review tab in a child process is walked by tests/browser/test_dpo_loop.py), vote on
five pairs with the keyboard, watch the win rate update, and read the results."""

import re

import pytest

from ftstudio.evaluation.compare import generate_and_review
from tests.browser.conftest import SHOTS, open_app
from tests.evaluation_fixtures import FakeBackend, finished_run

pytestmark = pytest.mark.browser


def test_a_reviewer_votes_with_the_keyboard_and_the_win_rate_updates(live_app, settings, tiny_model_dir, page,
                                                                     tmp_path):
    url, store = live_app
    # 30 examples: a test split of 6 prompts, 6 pairs (the fake backend's answers all differ), 5 voted key by key.
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    generate_and_review(store, settings, run, backend=FakeBackend())
    open_app(page, url)
    page.locator("#annotator textarea, #annotator input").first.fill("olivia")
    page.keyboard.press("Tab")
    page.get_by_role("tab", name="Review").click()
    page.wait_for_function("document.querySelector('#review-run input')?.value.length > 0")
    page.locator("#review-start").click()
    page.locator("#review-counter").get_by_text("Pair 1 for you").wait_for()
    panel = page.locator("#review-panel").inner_text()
    for name in (run.system, f"run {run.id}", "base model"):
        assert name not in panel  # nothing on screen names a system before the vote
    page.screenshot(path=str(SHOTS / "review-blind.png"), full_page=True)

    review = store.list_reviews(project.id)[0]
    pairs = len(store.review_pairs(review.id))
    page.locator("#review-counter").click()  # focus out of any field, so keys go to the shortcuts
    for done, key in enumerate("abaab"[:pairs - 1], start=1):
        page.keyboard.press(key)
        page.locator("#review-counter").get_by_text(f"Pair {done + 1} for you").wait_for()
        page.locator("#review-reveal").get_by_text("A was").wait_for()
        # No running tally by name between pairs: it would sway the next vote.
        assert "wins" not in page.locator("#review-winrate").inner_text()
    reveal = page.locator("#review-reveal").inner_text()
    assert re.search(r"Previous pair: A was (the base model|run \d)", reveal)
    for done in range(min(5, pairs - 1) + 1, pairs + 1):
        page.keyboard.press("a")
        page.locator("#review-counter").get_by_text("Nothing left" if done == pairs else f"Pair {done + 1} for you"
                                                    ).wait_for()
    page.locator("#review-winrate").get_by_text(f"({pairs} votes)").wait_for()
    assert "wins" in page.locator("#review-winrate").inner_text()  # the tally, once the queue is done
    page.screenshot(path=str(SHOTS / "review-after-votes.png"), full_page=True)
    ratings = store.list_ratings(review.id)
    assert len(ratings) == pairs and {r.rater for r in ratings} == {"olivia"}

    page.get_by_role("tab", name="Results").click()
    page.locator("#results-verdict").get_by_text(f"{pairs} votes").wait_for()
    page.locator("#win-chart .js-plotly-plot").wait_for()
    table = page.locator("#win-table").inner_text()
    assert "base model" in table and "%" in table
    page.screenshot(path=str(SHOTS / "results-tab.png"), full_page=True)
