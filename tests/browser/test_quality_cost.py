"""The Results tab with four systems (the run, the base model, a few-shot prompt of it, a hosted model behind a
loopback OpenAI-compatible endpoint): one table of quality, latency and cost, the quality-cost chart, the best buy."""

import pytest

from ftstudio.bench.chat_server import Reply
from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.contestants import register_system
from ftstudio.evaluation.review import next_pair, vote
from tests.browser.conftest import SHOTS, open_app
from tests.evaluation_fixtures import FakeBackend, finished_run

pytestmark = pytest.mark.browser


def test_results_put_quality_beside_latency_and_cost_for_four_systems(live_app, settings, tiny_model_dir, page,
                                                                      tmp_path, chat_server):
    url, store = live_app
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=20)
    server = chat_server(default=Reply("In depot one, says the hosted model."))
    register_system(store, "gpt", server.url, "gpt-test", price_input=0.15, price_output=0.6)
    systems = [run.system, "base", "fewshot", "gpt"]
    review = generate_and_review(store, settings, run, systems, backend=FakeBackend()).review
    assert set(review.systems) == set(systems)
    hosted = "In depot one, says the hosted model."
    for reviewer in ("ana", "ben"):  # the hosted answer wins every pair it is in; the rest alternate
        voted = 0
        while (pair := next_pair(store, review, reviewer)) is not None:
            choice = "a" if pair.answer_a == hosted else "b" if pair.answer_b == hosted else "ab"[voted % 2]
            vote(store, pair.token, reviewer, choice)
            voted += 1

    open_app(page, url)
    page.get_by_role("tab", name="Results").click()
    page.wait_for_function("document.querySelector('#results-run input')?.value.length > 0")
    page.locator("#results-refresh").click()
    table = page.locator("#quality-cost-table")
    page.wait_for_function("document.querySelector('#quality-cost-table')?.innerText.includes('gpt')",
                           timeout=60_000)
    text = table.inner_text()
    for name in systems:
        assert name in text
    assert "hosted" in text and "local" in text and "your hardware" in text
    page.locator("#quality-cost-chart .js-plotly-plot").wait_for(timeout=30_000)
    best = page.locator("#best-buy").inner_text()
    assert "Best buy" in best, best
    page.screenshot(path=str(SHOTS / "results-quality-cost.png"), full_page=True)
