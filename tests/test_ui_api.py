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


def test_the_api_names_no_system_before_the_vote(live_app, settings, tiny_model_dir, tmp_path):
    from tests.evaluation_fixtures import FakeBackend, finished_run

    from ftstudio.evaluation.compare import generate_and_review

    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    generate_and_review(store, settings, run, backend=FakeBackend())
    client = Client(url, verbose=False)
    shown = client.predict(project.name, str(run.id), "ana", api_name="/next_pair")
    text = repr(shown)
    for name in (run.system, f"run {run.id}", "base model", "base", run.name):
        assert name not in text, name
    answered = client.predict(project.name, str(run.id), "ana", None, None, "", api_name="/vote_a")
    assert "A was " in repr(answered) and ("base model" in repr(answered) or f"run {run.id}" in repr(answered))
