"""The Datasets tab over the app's HTTP API: preview, freeze and export answer with every widget they name, and a
preference file dropped on the Data tab freezes as a preference version and exports as prompt/chosen/rejected."""

import json
import zipfile
from pathlib import Path

from gradio_client import Client, handle_file


def test_freeze_preview_and_export_through_the_api(live_app, tmp_path):
    url, store = live_app
    store.create_project("api", "generation")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Where is pallet {n}?", "answer": f"In depot {n % 3}."})
                               for n in range(10)))
    client = Client(url, verbose=False)
    client.predict("api", [handle_file(str(pairs))], [], "", "", "", "", "", "", "", api_name="/import_files")

    tokens, caption, _ = client.predict("api", "chat", "", "", "", 1, 1024, True, api_name="/preview_template")
    assert "Example 1 of 10" in caption and tokens
    notice, table, pick = client.predict("api", "chat", "", "", "", "", "0.8,0.1,0.1", 0, api_name="/freeze")
    assert "Froze version v1" in notice and table["data"][0][0] == "v1" and "v1" in repr(pick)
    again, _, _ = client.predict("api", "chat", "", "", "", "", "0.8,0.1,0.1", 0, api_name="/freeze")
    assert "Nothing changed since version v1" in again
    refused, _, _ = client.predict("api", "chat", "", "", "", "", "0.8,0.1", 0, api_name="/freeze")
    assert "Split fractions" in refused
    archive, said = client.predict("api", "v1", "jsonl", api_name="/export")
    assert "Exported v1 as jsonl" in said and zipfile.ZipFile(archive).namelist()


def test_a_preference_file_from_the_data_tab_freezes_and_exports(live_app, tmp_path):
    url, store = live_app
    store.create_project("prefs", "generation")
    prefs = tmp_path / "prefs.jsonl"
    rows = [{"prompt": f"Where is pallet {n}?", "chosen": f"In depot {n % 3}.", "rejected": "No idea."}
            for n in range(8)]
    prefs.write_text("\n".join(json.dumps(row) for row in rows))
    client = Client(url, verbose=False)
    report, _, _ = client.predict("prefs", [handle_file(str(prefs))], [], "", "", "", "", "", "", "",
                                  api_name="/import_files")
    assert "**8** preference pair(s) imported" in report and "Datasets tab" in report, report

    counted = client.predict("prefs", 1, False, 0.4, api_name="/count_preferences")
    assert "8 imported from files" in counted
    notice, table, pick = client.predict("prefs", 1, False, 0.4, "", "1,0,0", None, api_name="/freeze_preferences")
    assert "Froze preference version v1" in notice and "8 from file" in notice and "v1" in repr(pick)
    archive, said = client.predict("prefs", "v1", "jsonl", api_name="/export")
    with zipfile.ZipFile(archive) as exported:
        train = [json.loads(line) for line in exported.read("train.jsonl").decode().splitlines()]
    assert sorted(train, key=lambda r: r["prompt"]) == sorted(rows, key=lambda r: r["prompt"])
    assert Path(archive).suffix == ".zip"
