"""The app's HTTP API through gradio_client, against a real launched app."""

from pathlib import Path

from gradio_client import Client, handle_file


def test_import_through_the_api_reports_and_lists(live_app, tmp_path):
    url, store = live_app
    store.create_project("api", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("Hook line one.\n---\nHook line two.\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    client = Client(url, verbose=False)
    report, errors, _ = client.predict("api", [handle_file(str(posts)), handle_file(str(empty))], [],
                                       "", "", "", "", "", "", "", api_name="/import_files")
    assert "**2** imported" in report and "**1** skipped" in report
    assert errors["data"][0][0] == "empty.txt"
    table, caption, page = client.predict("api", "", 1, api_name="/items")
    assert "2 item(s)" in caption
    assert sorted(row[5] for row in table["data"]) == ["Hook line one.", "Hook line two."]
