"""The systems panel and the distillation panel through the app's HTTP API (gradio_client), against a real launched
app and a loopback OpenAI-compatible teacher."""

import json

from gradio_client import Client

from ftstudio.bench.chat_server import Reply
from ftstudio.importing import import_paths


def test_add_a_system_then_distill_with_it_from_the_browser_api(live_app, tmp_path, chat_server):
    url, store = live_app
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n".join(json.dumps({"input": f"Where is pallet {n}?"}) for n in range(3)))
    project = store.create_project("Teach", "generation")
    import_paths(store, project, [inputs])
    server = chat_server(default=Reply("In depot two."))
    client = Client(url, verbose=False)
    notice, table = client.predict("teacher", server.url, "big", 1.0, 2.0, api_name="/add_system")
    assert "Added teacher" in notice and table["data"][0][:2] == ["teacher", "big"]
    notice, _ = client.predict("bad name", server.url, "big", None, None, api_name="/add_system")
    assert "cannot name a system" in notice
    done = client.predict("Teach", "teacher", 0, True, api_name="/distill")
    assert "3 of 3 items drafted, 3 accepted as examples marked teacher: 3 requests, 0 cached" in done
    assert len(server.requests) == 3
    assert {e.origin for e in store.list_examples(project.id)} == {"teacher"}
    again = client.predict("Teach", "teacher", 0, True, api_name="/distill")
    assert "0 of 0 items drafted" in again and len(server.requests) == 3  # accepted items need no teacher now
