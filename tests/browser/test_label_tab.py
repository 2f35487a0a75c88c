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
