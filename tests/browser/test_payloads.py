"""Hostile text in every view: a project name, posts, titles, authors and model answers carrying scripts, event
handlers, javascript: links and Markdown image beacons. None runs, none loads anything, and all read as text."""

from __future__ import annotations

import http.server
import threading

import pytest

from ftstudio.evaluation.compare import generate_and_review
from ftstudio.importing import import_paths
from tests.browser.conftest import SHOTS, open_app
from tests.evaluation_fixtures import FakeBackend, finished_run

pytestmark = pytest.mark.browser


class Beacon:
    """A loopback server that counts every request: a payload that loads anything shows up here."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the protocol's name
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payload(self, where: str) -> str:
        return (f'<script>window.__pwned="{where}"</script><img src=x onerror="window.__pwned=\'{where}\'">'
                f'![b]({self.url}/{where}.png) <img src="{self.url}/{where}-img.png"> '
                f'[click](javascript:window.__pwned="{where}") <a href="javascript:void(0)">a</a>')


def assert_inert(page, beacon: Beacon, where: str) -> None:
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None, where
    assert beacon.hits == [], (where, beacon.hits)
    assert page.locator("a[href^='javascript']").count() == 0, where
    assert page.locator(f"img[src^='{beacon.url}']").count() == 0, where


def test_hostile_text_never_runs_or_loads_in_any_view(live_app, settings, tiny_model_dir, page, tmp_path):
    url, store = live_app
    beacon = Beacon()
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=20)
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    with store.transaction() as tx:  # model answers that carry the payload
        tx.execute("UPDATE generations SET output = ? || output WHERE project_id = ?",
                   [beacon.payload("answer"), project.id])
    posts = store.create_project("Posts " + beacon.payload("name")[:60], "generation")
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join(
        '{"text": %s, "title": %s, "author": %s}' % tuple(
            __import__("json").dumps(beacon.payload(f"{field}{n}")) for field in ("text", "title", "author"))
        for n in range(3)))
    import_paths(store, posts, [source])

    open_app(page, url)
    page.locator("#annotator textarea, #annotator input").first.fill("ana")
    page.keyboard.press("Tab")
    page.get_by_label("Project").first.click()
    page.get_by_role("option", name=posts.name).click()
    page.locator("#item-caption").get_by_text("3 item(s)").wait_for()
    page.locator("#item-table [role=gridcell]").filter(has_text="window.__pwned").first.click()
    page.wait_for_function("document.querySelector('#item-text textarea')?.value.includes('onerror')")
    assert_inert(page, beacon, "data tab")

    page.get_by_role("tab", name="Label").click()
    page.locator("#label-counter").get_by_text("as ana").wait_for()
    assert "<script>" in page.locator("#label-counter").inner_text()  # the project's name, as typed
    assert_inert(page, beacon, "label tab")
    page.screenshot(path=str(SHOTS / "payloads-label.png"), full_page=True)

    page.get_by_label("Project").first.click()
    page.get_by_role("option", name=project.name).click()
    page.get_by_role("tab", name="Review").click()
    page.wait_for_function("document.querySelector('#review-run input')?.value.length > 0")
    page.locator("#review-start").click()
    page.locator("#review-counter").get_by_text("Pair 1 for you").wait_for()
    assert "<script>" in page.locator("#answer-a textarea").input_value()
    page.locator("#vote-a").click()
    page.locator("#review-reveal").get_by_text("A was").wait_for()
    assert_inert(page, beacon, "review tab")

    page.get_by_role("tab", name="Results").click()
    page.locator("#results-verdict").get_by_text("1 vote").wait_for(timeout=60_000)
    assert_inert(page, beacon, "results tab")
    page.screenshot(path=str(SHOTS / "payloads-results.png"), full_page=True)
    assert review.id
