"""Labeling in real Chromium with the keyboard alone: digits pick labels, A accepts, the counter follows."""

import pytest

from ftstudio.importing import import_paths
from tests.browser.conftest import SHOTS, open_app

pytestmark = pytest.mark.browser


def test_label_five_items_with_the_keyboard(live_app, page, tmp_path):
    url, store = live_app
    project = store.create_project("Phishing", "classification", labels=["phishing", "legitimate"])
    mails = tmp_path / "mails.md"
    mails.write_text("\n---\n".join(f"Email {n}: {'verify your password now' if n % 2 else 'pallets arrive at 9'}"
                                   for n in range(7)))
    import_paths(store, project, [mails])

    open_app(page, url)
    annotator = "ana"
    page.locator("#annotator textarea, #annotator input").first.fill(annotator)
    page.keyboard.press("Tab")
    page.get_by_role("tab", name="Label").click()  # opening the tab leases the first item to ana
    text_box = page.locator("#label-input textarea")
    for done in range(1, 6):
        page.wait_for_function("document.querySelector('#label-input textarea').value.startsWith('Email')")
        text = text_box.input_value()
        page.keyboard.press("1" if "verify" in text else "2")
        page.keyboard.press("a")
        page.locator("#label-counter").get_by_text(f"{done} done by you").wait_for()
    page.screenshot(path=str(SHOTS / "label-tab.png"), full_page=True)

    examples = store.list_examples(project.id)
    assert len(examples) == 5 and {e.created_by for e in examples} == {annotator}
    for example in examples:
        assert example.label == ("phishing" if "verify" in example.input else "legitimate")
    assert "2 left" in page.locator("#label-counter").inner_text()


def test_a_draft_that_arrives_after_a_skip_never_lands_on_the_next_item(live_app, page, tmp_path, chat_server):
    """Drafts take up to a minute on a CPU; the annotator moves on meanwhile. A slow teacher endpoint stands in."""
    import json

    from ftstudio.bench.chat_server import Reply
    from tests.conftest import wait_until

    url, store = live_app
    project = store.create_project("Drafted posts", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("First post about forecasts.\n---\nSecond post about pallets.\n")
    import_paths(store, project, [posts])
    teacher = chat_server(default=Reply("Write about forecasts.", delay=4))
    store.update_project(project.id, settings={"drafting": {"base_url": teacher.url, "model": "teacher"}})

    open_app(page, url)
    page.locator("#annotator textarea, #annotator input").first.fill("ana")
    page.keyboard.press("Tab")
    page.get_by_role("tab", name="Label").click()
    page.wait_for_function("document.querySelector('#label-output textarea')?.value.includes('post about')")
    first = page.locator("#label-output textarea").input_value()
    page.locator("#draft-input").click()
    wait_until(lambda: teacher.requests, 30, "the draft request to reach the teacher")
    page.locator("#label-skip").click()
    page.wait_for_function("(() => { const v = document.querySelector('#label-output textarea').value;"
                           f" return v.includes('post about') && v !== {json.dumps(first)}; }})()")
    # The first item's draft arrives about 4 s after it was asked for, while the second item is on screen.
    page.wait_for_function("document.querySelector('#label-input textarea').value !== ''"
                           " || document.querySelector('#label-notice').innerText.includes('moved on')",
                           timeout=60_000)
    assert page.locator("#label-input textarea").input_value() == ""
    assert not page.locator("#draft-row").is_visible()
    # A draft asked for on the item on screen still lands in its empty input.
    page.locator("#draft-input").click()
    page.wait_for_function("document.querySelector('#label-input textarea').value === 'Write about forecasts.'",
                           timeout=60_000)


def test_an_admin_sets_a_teacher_endpoint_and_uses_its_offered_draft(live_app, page, tmp_path, chat_server):
    from ftstudio.bench.chat_server import Reply

    url, store = live_app
    project = store.create_project("Taught posts", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("A post about forecasts.\n")
    import_paths(store, project, [posts])
    teacher = chat_server(default=Reply("  Here's a response that meets your request:\n\nA sharper post.  "))

    open_app(page, url)
    page.locator("#annotator textarea, #annotator input").first.fill("ana")
    page.keyboard.press("Tab")
    page.get_by_role("tab", name="Label").click()
    page.wait_for_function("document.querySelector('#label-output textarea')?.value === 'A post about forecasts.'")
    page.get_by_text("Drafting model", exact=True).click()
    page.locator("#drafter").get_by_text("an OpenAI-compatible endpoint").click()
    page.locator("#drafter-url textarea, #drafter-url input").first.fill(teacher.url)
    page.locator("#drafter-model textarea, #drafter-model input").first.fill("teacher")
    page.locator("#save-drafter").click()
    page.locator("#label-notice").get_by_text("Drafts come from teacher at").wait_for()
    assert store.find_project("Taught posts").settings["drafting"] == {"kind": "endpoint", "base_url": teacher.url,
                                                                       "model": "teacher"}
    # Drafting needs something to draft from, and says so; the failure leaves the tab working.
    page.locator("#draft-output").click()
    page.locator("#label-notice").get_by_text("There is no input to draft an output for").wait_for()
    # The output is filled already: the draft is offered beside it, trimmed, and used only when asked.
    page.locator("#label-input textarea").fill("A post on forecasts, sharper")
    page.locator("#draft-output").click()
    page.locator("#draft-row").wait_for()
    page.wait_for_function("document.querySelector('#draft-text textarea')?.value === 'A sharper post.'")
    assert page.locator("#label-output textarea").input_value() == "A post about forecasts."
    page.locator("#use-draft").click()
    page.wait_for_function("document.querySelector('#label-output textarea').value === 'A sharper post.'")
    page.locator("#draft-row").wait_for(state="hidden")


@pytest.fixture
def embedded_app(settings):
    """The app on the embedded base model, never loaded (only what the page says about it is checked)."""
    from ftstudio.store import open_store
    from ftstudio.ui.app import build_app, launch_kwargs
    from tests.conftest import free_port

    store = open_store(settings.database_path)
    app = build_app(store, settings, load_model_now=False)
    port = free_port()
    app.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True, **launch_kwargs(settings))
    yield f"http://127.0.0.1:{port}/", store
    app.close()
    store.close()


def test_the_tab_says_why_drafts_are_weak_until_a_better_model_is_set(embedded_app, page, tmp_path):
    url, store = embedded_app
    project = store.create_project("Weak drafts", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("A post about forecasts.\n")
    import_paths(store, project, [posts])
    open_app(page, url)
    page.get_by_role("tab", name="Label").click()
    page.locator("#drafter-note").get_by_text("embedded 135M base model").wait_for()
    store.update_project(project.id, settings={"drafting": {"kind": "endpoint", "base_url": "http://localhost:9/v1",
                                                            "model": "teacher"}})
    open_app(page, url)
    page.get_by_role("tab", name="Label").click()
    # The endpoint's URL arrives with the same update as the note: once it is in, the note's fate is decided.
    page.get_by_text("Drafting model", exact=True).click()
    page.wait_for_function("document.querySelector('#drafter-url textarea, #drafter-url input')?.value"
                           " === 'http://localhost:9/v1'")
    assert not page.locator("#drafter-note").is_visible()
