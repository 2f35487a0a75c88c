"""The defects a new user met in the landed half, each as the user meets it in real Chromium."""

import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from ftstudio.importing import import_paths
from tests.browser.conftest import SHOTS, open_app
from tests.conftest import wait_until
from tests.evaluation_fixtures import finished_run

# No event is pending or queued for the Label tab's boxes (Gradio hides an output's status tracker when idle).
SETTLED = ("[...document.querySelectorAll('#label-panel [data-testid=status-tracker]')]"
           ".every(tracker => tracker.classList.contains('hide'))")

pytestmark = pytest.mark.browser


def name_box(page):
    return page.locator("#annotator textarea, #annotator input").first


def test_the_adapter_zip_downloads_and_loads_with_peft(live_app, settings, tiny_model_dir, page, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    open_app(page, url)
    page.get_by_role("tab", name="Train").click()
    page.locator("#run-progress").get_by_text(f"Run {run.id}").wait_for()
    page.get_by_text("Export the adapter").click()
    page.locator("#download-adapter").click()
    link = page.locator("#adapter-file a").first
    link.wait_for()
    with page.expect_download() as downloaded:
        link.click()
    archive = tmp_path / "adapter.zip"
    downloaded.value.save_as(archive)
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(tmp_path / "adapter")
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path / "adapter")
    assert any("lora_B" in name for name, _ in tuned.named_parameters())


def test_the_name_is_kept_across_a_reload_and_no_guest_gets_a_lease(live_app, page, tmp_path):
    url, store = live_app
    project = store.create_project("Two posts", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("First post about forecasts.\n---\nSecond post about pallets.\n")
    import_paths(store, project, [posts])

    open_app(page, url)
    page.get_by_role("tab", name="Label").click()  # no name yet: nothing is leased to anyone
    page.locator("#label-notice").get_by_text("Type your name").wait_for()
    assert store.leases_held(project.id) == {}
    name_box(page).fill("Maya")
    page.keyboard.press("Tab")
    page.locator("#label-start").click()
    page.locator("#label-counter").get_by_text("Labeling Two posts as Maya").wait_for()
    assert store.leases_held(project.id) == {"Maya": 1}

    page.reload()
    page.wait_for_function("document.querySelector('#annotator textarea, #annotator input')?.value === 'Maya'")
    page.get_by_role("tab", name="Label").click()
    page.locator("#label-counter").get_by_text("2 left").wait_for()
    assert store.leases_held(project.id) == {"Maya": 1}  # the same item came back to her
    page.locator("#label-skip").click()
    page.locator("#label-notice").get_by_text("Saved as skipped").wait_for()
    page.screenshot(path=str(SHOTS / "label-after-reload.png"), full_page=True)


def test_undo_restores_the_accepted_input_in_the_browser(live_app, page, tmp_path):
    url, store = live_app
    project = store.create_project("Undo posts", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("A post about dashboards.\n---\nA post about on-call.\n")
    import_paths(store, project, [posts])
    open_app(page, url)
    name_box(page).fill("ana")
    page.keyboard.press("Tab")
    page.get_by_role("tab", name="Label").click()
    # Opening the tab may race the name just typed: ask for the item too (the same leased one comes back).
    page.locator("#label-start").click()
    page.wait_for_function("document.querySelector('#label-output textarea')?.value.startsWith('A post')")
    # Both loads put the item on screen; type only once the second is in too, or it empties the box again.
    page.wait_for_function(SETTLED)
    page.locator("#label-input textarea").fill("The idea I typed")
    page.locator("#label-accept").click()
    page.locator("#label-notice").get_by_text("Saved as accepted").wait_for()
    page.locator("#label-undo").click()
    page.locator("#label-notice").get_by_text("Undone").wait_for()
    assert page.locator("#label-input textarea").input_value() == "The idea I typed"


def test_messages_with_quotes_read_as_written(live_app, page):
    url, store = live_app
    store.create_project("Maya's posts", "generation")
    open_app(page, url)
    name = page.locator("#new-project textarea").first
    if not name.is_visible():
        page.get_by_text("New project").click()
    name.fill("maya's POSTS")
    page.get_by_role("button", name="Create project").click()
    status = page.locator("#data-status")
    status.get_by_text("already exists").wait_for()
    assert "Maya's posts" in status.inner_text() and "&#x27;" not in status.inner_text()
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-start").click()
    notice = page.locator("#train-notice")
    notice.get_by_text("has no frozen version yet").wait_for()
    assert "\u201cMaya's posts\u201d has no frozen version" in notice.inner_text()
    assert "&#x27;" not in notice.inner_text()
    page.get_by_role("tab", name="Datasets").click()
    page.locator("#preview-button").click()
    page.locator("#preview-caption").get_by_text("No accepted examples yet").wait_for()
    assert "&#x27;" not in page.locator("body").inner_text()


def test_page_zero_and_bad_numbers_give_no_error_toast(live_app, page, tmp_path):
    url, store = live_app
    project = store.create_project("Paged", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("\n---\n".join(f"Post number {n}." for n in range(3)))
    import_paths(store, project, [posts])
    open_app(page, url)
    page.locator("#item-caption").get_by_text("3 item(s)").wait_for()
    page.locator("#item-page input").fill("0")
    page.locator("#item-page input").press("Enter")
    page.locator("#item-caption").get_by_text("page 1 of 1").wait_for()
    page.wait_for_timeout(500)
    assert page.locator(".toast-body").count() == 0


def test_a_failed_run_says_why_and_a_finished_one_cannot_be_cancelled(live_app, settings, tiny_model_dir, page,
                                                                      tmp_path):
    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    open_app(page, url)
    page.get_by_role("tab", name="Train").click()
    page.locator("#run-progress").get_by_text("finished").wait_for()
    page.locator("#run-cancel").click()
    page.locator("#train-notice").get_by_text("there is nothing to cancel").wait_for()
    assert "Cancelling" not in page.locator("#train-notice").inner_text()
    reason = "The loss diverged: it went from 3.5 at the start to 28 at step 5, so the run was stopped."
    store.update_run(run.id, status="failed", error=reason, finished_at=datetime.now())
    page.locator("#run-progress").get_by_text("The loss diverged").wait_for(timeout=10_000)


def test_out_of_range_settings_are_refused_in_plain_words(live_app, settings, tiny_model_dir, page, tmp_path):
    url, store = live_app
    finished_run(store, settings, tiny_model_dir, tmp_path)
    open_app(page, url)
    page.get_by_role("tab", name="Train").click()
    page.wait_for_function("document.querySelector('#train-version input')?.value === 'v1'")
    page.get_by_label("learning rate").fill("1000")
    page.get_by_label("max steps").fill("-3")
    page.locator("#train-start").click()
    notice = page.locator("#train-notice")
    notice.get_by_text("learning rate must be").wait_for()
    assert "max steps must be 0" in notice.inner_text() and "learning_rate" not in notice.inner_text()
