"""The loop in real Chromium with logins on: an admin signs in, creates a project, uploads and imports posts,
labels, freezes, votes blind on a run's answers, runs the judge and reads the results; an annotator signs in and
finds training, results and settings out of reach, in the page and over the API. Screenshots go to screenshots/.

Training from the Train tab (the loss curve, the run's author) and generating the answers in a child process are
walked with logins on by tests/browser/test_dpo_loop.py; here the run is recorded, its adapter random, and its
answers come from a fake backend, so this test pays for no child process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftstudio.access import AccessPolicy, UserBook
from ftstudio.bench.chat_server import Reply
from ftstudio.evaluation.compare import generate_and_review
from tests.browser.conftest import SHOTS, record_finished_run
from tests.evaluation_fixtures import FakeBackend
from tests.conftest import free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"ada": "admin-pass-1", "ann": "annotator-pass-1"}


@pytest.fixture
def team_app(settings, tiny_model_dir, tmp_path):
    from ftstudio.ui.app import serve

    book = UserBook(tmp_path / "users.json")
    book.add("ada", "admin", PASSWORDS["ada"])
    book.add("ann", "annotator", PASSWORDS["ann"])
    settings.base_model = str(tiny_model_dir)
    port = free_port()
    app, store, manager = serve(settings, host="127.0.0.1", port=port, block=False,
                                policy=AccessPolicy("password", book=book))
    yield f"http://127.0.0.1:{port}/", store
    manager.stop_polling()
    app.close()
    store.close()


def sign_in(page, url: str, name: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Login").click()
    page.locator("#signed-in").get_by_text(f"Signed in as {name}").wait_for()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"loop-{name}.png"), full_page=True)


def test_an_admin_imports_labels_freezes_votes_judges_and_reads_results(team_app, page, chat_server, settings,
                                                                          tiny_model_dir):
    url, store = team_app
    sign_in(page, url, "ada")
    assert not page.locator("#annotator").is_visible()  # no name box: the login is the name
    shot(page, "1-signed-in")

    # Data: a project, and the sample posts imported into it.
    new_project = page.locator("#new-project textarea").first
    new_project.fill("Maya's posts")
    page.get_by_role("button", name="Create project").click()
    page.locator("#data-status").get_by_text("Created").wait_for()
    page.locator("#upload input[type=file]").set_input_files(str(ROOT / "assets/samples/posts/maya_posts_2024.md"))
    page.locator("#upload").get_by_text("maya_posts_2024", exact=False).wait_for()
    page.locator("#import-button").click()
    page.locator("#import-report").get_by_text("imported").wait_for()
    shot(page, "2-imported")
    project = store.find_project("Maya's posts")
    items = store.list_items(project.id, "", 1, 100).total
    assert items >= 10

    # Label: an idea for each post, accepted with the keyboard.
    page.get_by_role("tab", name="Label").click()
    for done in range(1, 11):
        page.wait_for_function("document.querySelector('#label-output textarea')?.value.length > 0")
        page.locator("#label-input textarea").fill(f"A post idea, number {done}")
        page.locator("#label-accept").click()
        page.locator("#label-counter").get_by_text(f"{done} done by you").wait_for()
    shot(page, "3-labeled")
    assert {e.created_by for e in store.list_examples(project.id)} == {"ada"}

    # Datasets: freeze a version with a test split to review on.
    page.get_by_role("tab", name="Datasets").click()
    split = page.get_by_label("Train, validation, test").first
    split.fill("0.6,0.2,0.2")
    split.press("Tab")
    page.locator("#freeze-button").click()
    page.locator("#freeze-notice").get_by_text("Froze version v1").wait_for()
    shot(page, "4-frozen")

    # A finished run of v1 (trained from the Train tab in test_dpo_loop.py), its answers made here: the admin votes.
    run = record_finished_run(store, settings, tiny_model_dir, project, "v1")
    generate_and_review(store, settings, run, backend=FakeBackend())
    page.get_by_role("tab", name="Review").click()
    page.wait_for_function("document.querySelector('#review-run input')?.value.length > 0")
    page.locator("#review-start").click()
    page.locator("#review-counter").get_by_text("Pair 1 for you").wait_for()
    shot(page, "6-blind-pair")
    page.locator("#review-counter").click()
    page.keyboard.press("a")
    page.locator("#review-reveal").get_by_text("A was").wait_for()
    shot(page, "7-voted")

    # Judge: an OpenAI-compatible endpoint (a loopback server here) judges every pair in both orders.
    def consistent(body, before):  # a judge whose verdict follows the answers, not their order
        text = body["messages"][-1]["content"]
        first, second = text.split("[Answer A]\n", 1)[1].split("\n\n[Answer B]", 1)
        return Reply("This one reads better. " + ("[[A]]" if first > second else "[[B]]"))

    server = chat_server(consistent)
    page.get_by_role("tab", name="Judge").click()
    page.wait_for_function("document.querySelector('#judge-run input')?.value.length > 0")
    page.locator("#judge-kind").get_by_text("remote endpoint").click()
    page.locator("#judge-local-model").wait_for(state="hidden")
    page.locator("#judge-url input, #judge-url textarea").first.fill(server.url)
    page.locator("#judge-model input, #judge-model textarea").first.fill("judge-1")
    page.locator("#judge-start").click()
    page.locator("#judge-notice").get_by_text("judgments by").wait_for(timeout=60_000)
    assert server.requests
    shot(page, "8-judged")

    # Results: people's and the judge's verdicts side by side.
    page.get_by_role("tab", name="Results").click()
    page.locator("#results-verdict").get_by_text("People: 1 vote").wait_for(timeout=60_000)
    page.locator("#judge-summary").get_by_text("judge-1").wait_for(timeout=60_000)
    assert "0 unparseable, 0 failed" in page.locator("#judge-summary").inner_text()
    shot(page, "9-results")
    audit = {(e.user_name, e.action) for e in store.audit_log(limit=500)}
    assert {("ada", "create_project"), ("ada", "rate")} <= audit


def test_an_annotator_cannot_reach_training_results_or_settings(team_app, page):
    url, store = team_app
    project = store.create_project("Inbox", "generation")
    sign_in(page, url, "ann")
    page.get_by_role("tab", name="Label").wait_for()
    for hidden in ("Train", "Results", "Judge", "Datasets", "Model", "Review"):
        page.get_by_role("tab", name=hidden).wait_for(state="detached", timeout=15_000)
    page.locator("#new-project").wait_for(state="hidden")  # nor the parts of the tabs meant for admins
    assert not page.locator("#import-row").is_visible() and not page.locator("#project-admin").is_visible()
    page.get_by_role("tab", name="Label").click()
    page.locator("#label-counter").get_by_text("Labeling Inbox as ann").wait_for()
    assert not page.locator("#label-settings").is_visible() and not page.locator("#drafting-model").is_visible()
    shot(page, "annotator")
    # The same signed-in session, straight to the HTTP API: starting a run is refused on the server.
    info = page.request.get(url + "gradio_api/info").json()["named_endpoints"]["/train"]["parameters"]
    config = page.request.get(url + "config").json()
    index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "train")
    values = [project.name, "v1", "sft", "lora"] + [None] * (len(info) - 4)
    joined = page.request.post(url + "gradio_api/queue/join", data=json.dumps(
        {"data": values, "fn_index": index, "session_hash": "annotator-raw", "event_data": None, "trigger_id": None}),
        headers={"Content-Type": "application/json"})
    assert joined.ok, joined.text()
    stream = page.request.get(url + "gradio_api/queue/data?session_hash=annotator-raw").text()
    assert "may not start, cancel or export training runs" in stream, stream[-800:]
    assert store.list_runs(project.id) == []
