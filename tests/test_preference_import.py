"""A file in TRL's preference form imports as the project's preference pairs, not as items: the import says so,
they freeze into a preference version, and its DPO export holds them as prompt, chosen and rejected."""

import json
import subprocess
import sys

import pytest

from ftstudio.evaluation.preference_pairs import PreferenceFilters, collect_preferences, freeze_preferences
from ftstudio.importing import import_paths
from ftstudio.versions import SplitPlan, VersionError, export_version


def cli(home, *args):
    return subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=300)


def standard_pairs(count: int = 12) -> list[dict]:
    return [{"prompt": f"Where is pallet {n}?", "chosen": f"In depot {n % 3}.", "rejected": "No idea."}
            for n in range(count)]


def test_import_of_a_trl_preference_file_from_the_cli_then_freeze_and_export(settings, tmp_path):
    prefs = tmp_path / "prefs.jsonl"
    rows = standard_pairs() + [{"prompt": "Same?", "chosen": "Yes, it is.", "rejected": "Yes,  it is."}]
    prefs.write_text("\n".join(json.dumps(row) for row in rows))
    home = settings.home

    imported = cli(home, "import", str(prefs), "--project", "prefs")
    assert imported.returncode == 0, imported.stderr
    assert "13 preference pair(s) imported; freeze them as a preference version" in imported.stdout
    assert "ftstudio preferences --project 'prefs' --freeze" in imported.stdout
    as_json = json.loads(cli(home, "import", str(prefs), "--project", "again", "--json").stdout)
    assert as_json["preference_pairs"] == 13 and as_json["imported"] == 0

    refused = cli(home, "freeze", "--project", "prefs")
    assert refused.returncode != 0 and "13 imported preference pair(s)" in refused.stderr + refused.stdout

    counted = cli(home, "preferences", "--project", "prefs")
    assert "12 preference pairs: 0 from people's votes, 0 from the judge, 12 imported from files." in counted.stdout
    assert "Left out 1: the two answers had the same words" in counted.stdout
    frozen = cli(home, "preferences", "--project", "prefs", "--freeze", "--split", "1,0,0", "--json")
    assert frozen.returncode == 0, frozen.stderr
    version = json.loads(frozen.stdout)
    assert version["kind"] == "preferences" and version["counts"]["sources"] == {"file": 12}

    exported = cli(home, "export", "--project", "prefs", "--version", version["name"], "--format", "jsonl",
                   str(tmp_path / "dpo"))
    assert exported.returncode == 0, exported.stderr
    train = [json.loads(line) for line in (tmp_path / "dpo" / "train.jsonl").read_text().splitlines()]
    assert sorted(train, key=lambda r: r["prompt"]) == sorted(standard_pairs(), key=lambda r: r["prompt"])


def test_import_paths_reads_conversational_pairs_and_they_freeze(store, project, tmp_path):
    chat = tmp_path / "chat.jsonl"
    chat.write_text("\n".join(json.dumps({
        "chosen": [{"role": "user", "content": f"Where is pallet {n}?"},
                   {"role": "assistant", "content": f"In depot {n % 3}."}],
        "rejected": [{"role": "user", "content": f"Where is pallet {n}?"},
                     {"role": "assistant", "content": "No idea."}]}) for n in range(6)))
    plain = tmp_path / "plain.csv"
    plain.write_text("prompt,chosen,rejected\nWhat is on shelf 4?,Bolts.,Nothing.\n")

    report = import_paths(store, project, [chat])
    assert report.preference_pairs == 6 and report.imported == 0 and not report.errors
    assert "6 preference pair(s) imported" in report.summary()
    assert store.list_items(project.id).total == 0  # pairs, not items to label

    candidates = collect_preferences(store, project, PreferenceFilters())
    assert candidates.counts == {"human": 0, "judge": 0, "file": 6}
    assert not collect_preferences(store, project, PreferenceFilters(include_imported=False)).pairs
    version = freeze_preferences(store, project, plan=SplitPlan((1.0, 0.0, 0.0)), name="prefs")
    assert version.counts["sources"] == {"file": 6}
    assert all(row.conversational for row in store.preference_rows(version.id))
    export_version(store, version, "jsonl", tmp_path / "out")
    exported = [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert {"prompt": [{"role": "user", "content": "Where is pallet 1?"}],
            "chosen": [{"role": "assistant", "content": "In depot 1."}],
            "rejected": [{"role": "assistant", "content": "No idea."}]} in exported

    # TRL trains on one form at a time: text pairs beside conversational ones are refused, with what to do.
    assert import_paths(store, project, [plain]).preference_pairs == 1
    with pytest.raises(VersionError, match="mix text and conversational"):
        freeze_preferences(store, project, name="mixed")


def test_a_broken_preference_row_skips_the_file_and_says_which_row(store, project, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(standard_pairs(1)[0]) + "\n" + json.dumps({"prompt": "p", "chosen": "c",
                                                                            "rejected": None}) + "\n")
    report = import_paths(store, project, [broken])
    assert report.preference_pairs == 0 and len(report.errors) == 1
    assert "preference form" in report.errors[0].reason and "row 2" in report.errors[0].reason
    assert store.imported_preferences(project.id) == []
