"""Layout in real Chromium: panels with nothing in them take no room."""

import pytest

from tests.browser.conftest import open_app

pytestmark = pytest.mark.browser


def test_an_empty_download_panel_takes_no_room(live_app, page):
    url, store = live_app
    store.create_project("Posts", "generation")
    open_app(page, url)
    page.get_by_role("tab", name="Datasets").click()
    page.locator("#export-file").wait_for(state="attached")
    page.locator("#preview-button").wait_for()
    assert not page.locator("#export-file").is_visible()
