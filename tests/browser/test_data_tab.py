"""The Data tab in real headless Chromium: upload, read the report, browse, and never run imported HTML."""

import os
from pathlib import Path

import pytest

from tests.browser.conftest import SHOTS, open_app

pytestmark = pytest.mark.browser

XSS_POST = (
    "Security awareness week! Never paste <script>window.__xss = 1; alert('xss')</script> into a form, "
    "and beware of <img src=x onerror=\"window.__xss = 2\"> tricks."
)


def test_upload_report_browse_and_no_script_runs(live_app, page, tmp_path):
    url, store = live_app
    store.create_project("Browser posts", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text(f"A normal first post about forecasts.\n---\n{XSS_POST}\n---\nA normal first post about forecasts.\n")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{oops\n")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    open_app(page, url)
    page.get_by_label("Project").first.click()
    page.get_by_role("option", name="Browser posts").click()
    page.locator("#upload input[type=file]").set_input_files([str(posts), str(broken)])
    page.locator("#upload").get_by_text("broken", exact=True).wait_for()
    page.locator("#import-button").click()
    report = page.locator("#import-report")
    report.get_by_text("imported").wait_for()
    assert "2 imported" in report.inner_text() and "1 duplicates" in report.inner_text()
    assert "broken.jsonl" in page.locator("#import-errors").inner_text()

    cell = page.locator("#item-table [role=gridcell]").filter(has_text="Security awareness week")
    cell.wait_for()
    assert "<script>" in cell.inner_text()  # shown as text
    cell.click()
    page.locator("#item-text textarea").wait_for()
    page.wait_for_function("document.querySelector('#item-text textarea').value.includes('onerror')")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "data-tab.png"), full_page=True)
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0


def test_sample_data_loads_in_one_click(live_app, page):
    url, _ = live_app
    open_app(page, url)
    page.locator("#sample-button").click()
    page.locator("#import-report strong", has_text="Sample: phishing emails").wait_for(timeout=60_000)
    # The caption reads "N item(s) · page 1 of M" once the table is in (a pending update shows the queue instead).
    # Read the count inside the wait: a later pending update can replace the caption between two separate reads.
    count = page.wait_for_function(
        "(() => { const m = document.querySelector('#item-caption').innerText.trim().match(/^([0-9,]+) item\\(s\\)/);"
        " return m && m[1]; })()").json_value()
    assert int(count.replace(",", "")) >= 40
    page.locator("#item-search input, #item-search textarea").first.fill("dashboard")
    page.locator("#item-search input, #item-search textarea").first.press("Enter")
    page.wait_for_function("!document.querySelector('#item-caption').innerText.startsWith('" + count + " ')")
    page.screenshot(path=str(SHOTS / "data-tab-samples.png"), full_page=True)


def test_the_new_project_box_closes_once_the_project_is_made(live_app, page):
    url, store = live_app
    open_app(page, url)  # no project yet: the box is open
    name = page.locator("#new-project textarea").first
    name.fill("Fresh posts")
    page.get_by_role("button", name="Create project").click()
    page.locator("#data-status").get_by_text("Created Fresh posts").wait_for()
    name.wait_for(state="hidden", timeout=15_000)
    assert store.find_project("Fresh posts") is not None
    # The sample list beside "Load sample data" is read from the samples themselves.
    from ftstudio.samples import SAMPLE_PROJECTS

    listed = page.locator("#sample-list").inner_text()
    assert all(sample.name in listed for sample in SAMPLE_PROJECTS)
