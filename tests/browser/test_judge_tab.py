"""The judge in real Chromium: point the Judge tab at a loopback OpenAI-compatible endpoint, judge a run's answers
in both orders, then read on the Results tab the judge's verdicts next to people's votes, how far they agree,
and the metrics. Judge texts and model outputs carrying HTML stay text."""

import pytest

from ftstudio.bench.chat_server import Reply
from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.judging import review_generations
from ftstudio.evaluation.review import next_pair, vote
from tests.browser.conftest import SHOTS, open_app
from tests.evaluation_fixtures import FakeBackend, finished_run

pytestmark = pytest.mark.browser

PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def test_a_product_owner_judges_answers_and_sees_how_far_the_judge_agrees(live_app, settings, tiny_model_dir, page,
                                                                          tmp_path, chat_server):
    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=60)
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    generations = review_generations(store, review)
    first_tuned = next(g for g in generations.values() if g.system == run.system)
    with store.transaction() as tx:  # a model output that carries HTML
        tx.execute("UPDATE generations SET output = ? WHERE id = ?", [PAYLOAD + " In depot 1.", first_tuned.id])
    tuned = {g.output for g in review_generations(store, review).values() if g.system == run.system}
    # ana prefers the tuned answer, except on the first two pairs.
    contrary = {p.id for p in store.review_pairs(review.id)[:2]}
    while (pair := next_pair(store, review, "ana")) is not None:
        mine = "a" if pair.answer_a in tuned else "b"
        other = {"a": "b", "b": "a"}[mine]
        vote(store, pair.token, "ana", other if store.get_assignment(pair.token).pair_id in contrary else mine)

    def respond(body, before):
        text = body["messages"][-1]["content"]
        first = text.split("[Answer A]\n", 1)[1].split("\n\n[Answer B]", 1)[0]
        return Reply(f"{PAYLOAD} The first answer is better. [[A]]" if first in tuned else "[[B]]")

    server = chat_server(respond)
    open_app(page, url)
    page.get_by_role("tab", name="Judge").click()
    page.wait_for_function("document.querySelector('#judge-run input')?.value.length > 0")
    page.locator("#judge-kind").get_by_text("remote endpoint").click()
    page.locator("#judge-local-model").wait_for(state="hidden")  # the switch to the endpoint's fields is done
    page.locator("#judge-url input, #judge-url textarea").first.fill(server.url)
    page.locator("#judge-model input, #judge-model textarea").first.fill("judge-1")
    page.locator("#judge-start").click()
    page.locator("#judge-notice").get_by_text("judgments by").wait_for(timeout=60_000)
    notice = page.locator("#judge-notice").inner_text()
    pairs = len(store.review_pairs(review.id))
    assert f"{2 * pairs} judgments" in notice and "Same verdict in both orders on 100%" in notice
    assert len(server.requests) == 2 * pairs
    page.get_by_text("Judge prompt and rubric").click()
    page.locator("#judge-prompt-caption").get_by_text("built-in").wait_for()
    page.screenshot(path=str(SHOTS / "judge-tab.png"), full_page=True)

    page.get_by_role("tab", name="Results").click()
    page.locator("#judge-summary").get_by_text("Position consistency").wait_for(timeout=60_000)
    page.locator("#judge-agreement").get_by_text("Cohen's kappa:").wait_for()
    page.locator("#win-chart .js-plotly-plot").wait_for()
    verdict = page.locator("#results-verdict").inner_text()
    assert "Can the judge be trusted here?" in verdict and "People:" in verdict
    assert "%" in page.locator("#judge-table").inner_text()
    assert "ROUGE-L" in page.locator("#metrics-table").inner_text()
    page.get_by_text("Where the judge and people disagree most").click()
    page.wait_for_function("document.querySelector('#disagreements')?.innerText.includes('The first answer')")
    assert "<img src=x" in page.locator("#disagreements").inner_text()  # shown as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src='x']").count() == 0
    page.screenshot(path=str(SHOTS / "results-judge.png"), full_page=True)
