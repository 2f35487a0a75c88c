"""What each role sees, in real Chromium with logins on: the login page says which app it is, and an annotator is
not offered what the server would refuse them."""

import pytest

from ftstudio.importing import import_paths
from tests.browser.conftest import SHOTS
from tests.browser.test_team_loop import sign_in, team_app  # noqa: F401 - team_app is a fixture

pytestmark = pytest.mark.browser


def test_the_login_page_is_titled_and_an_annotator_sees_no_item_admin(team_app, page, tmp_path):  # noqa: F811
    url, store = team_app
    project = store.create_project("Inbox", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("First post about forecasts.\n---\nSecond post about pallets.\n")
    import_paths(store, project, [posts])

    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="ftstudio").wait_for()
    page.screenshot(path=str(SHOTS / "login.png"), full_page=True)

    sign_in(page, url, "ann")
    page.locator("#import-row").wait_for(state="hidden")  # the role's rule is in: admin parts are hidden
    cell = page.locator("#item-table [role=gridcell]").filter(has_text="post about forecasts")
    cell.click()
    page.wait_for_function("document.querySelector('#item-text textarea')?.value.includes('forecasts')")
    page.get_by_text("Rename or delete the selected item").wait_for(state="hidden", timeout=15_000)
    assert not page.locator("#item-delete").is_visible()
