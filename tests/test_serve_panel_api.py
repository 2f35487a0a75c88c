"""The Train tab's "Serve this run" panel over the HTTP API: before a run is picked it says what to do and shows no
snippets; serving a finished run starts the OpenAI-compatible server (its models answer), and Stop stops it."""

import json
import socket
import urllib.request

from gradio_client import Client

from tests.evaluation_fixtures import finished_run


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _shown(snippet) -> str:
    """A code box's text as the browser would show it: nothing while it is hidden."""
    if isinstance(snippet, dict):
        return snippet.get("value") or "" if snippet.get("visible", True) else ""
    return snippet or ""


def test_the_serve_panel_starts_and_stops_a_runs_server(live_app, settings, tiny_model_dir, tmp_path):
    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    client = Client(url, verbose=False)
    status, curl, python = client.predict(project.name, "", 8000, api_name="/serve_run")
    assert "Pick one of this project's finished runs" in status and not _shown(curl) and not _shown(python)

    port = _free_port()
    status, curl, python = client.predict(project.name, str(run.id), port, api_name="/serve_run")
    assert f"http://127.0.0.1:{port}" in status, status
    curl, python = _shown(curl), _shown(python)
    assert run.system in curl and "chat/completions" in curl and "OpenAI(" in python
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=30) as answer:
        served = {model["id"] for model in json.loads(answer.read())["data"]}
    assert {"base", run.system} <= served

    status, curl, python = client.predict(project.name, str(run.id), api_name="/stop_serving")
    assert f"Stopped serving run {run.id}" in status and not _shown(curl)
