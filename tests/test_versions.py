import json
from collections import Counter

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from ftstudio.importing import import_paths
from ftstudio.labeling import decide, next_task
from ftstudio.templates import Template
from ftstudio.versions import (SplitPlan, VersionError, assign_splits, duplicate_groups, export_version,
                               freeze_version)

words = st.sampled_from("forecast depot pallet hiring dashboard driver route invoice claim median".split())
texts = st.lists(st.lists(words, min_size=3, max_size=12).map(" ".join), min_size=1, max_size=60)


@hypothesis_settings(max_examples=40, deadline=None)
@given(texts, st.integers(0, 2**16), st.sampled_from([(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (1.0, 0.0, 0.0)]))
def test_split_properties(text_list, seed, fractions):
    labels = [("a", "b", "c")[len(t) % 3] for t in text_list]
    plan = SplitPlan(fractions, seed)
    splits = assign_splits(text_list, labels, plan)
    assert len(splits) == len(text_list) and set(splits) <= {"train", "validation", "test"}
    # Exact and near duplicates never straddle two splits.
    groups = duplicate_groups(text_list)
    for group in set(groups):
        assert len({s for s, g in zip(splits, groups) if g == group}) == 1
    # Zero fractions stay empty; seeded splits repeat exactly.
    for name, fraction in zip(("train", "validation", "test"), fractions):
        if fraction == 0:
            assert name not in splits
    assert assign_splits(text_list, labels, plan) == splits
    # Each split is near its share within every label, up to one duplicate group per split.
    sizes = Counter(groups)
    for label in set(labels):
        members = [i for i, l in enumerate(labels) if l == label]
        for name, fraction in zip(("train", "validation", "test"), fractions):
            got = sum(splits[i] == name for i in members)
            assert abs(got - fraction * len(members)) <= 2 * max(sizes.values()) + 1


def test_near_duplicates_share_a_group():
    base = "We deleted 41 dashboards last year and nobody asked for a single one of them back, not one"
    groups = duplicate_groups([base, base.replace("41", "42"), base.upper(), "A completely different post about hiring"])
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_split_fractions_are_checked():
    with pytest.raises(VersionError, match="adding up to 1"):
        SplitPlan((0.8, 0.3, 0.1))


def labeled_project(store, tmp_path, count=20):
    project = store.create_project("phish", "classification", labels=["phishing", "legitimate"])
    body = tmp_path / "mails.md"
    body.write_text("\n---\n".join(f"Message {n}: {'verify your account now' if n % 3 == 0 else 'pallet ETA'} #{n}"
                                   for n in range(count)))
    import_paths(store, project, [body])
    while (task := next_task(store, project, "ana")) is not None:
        label = "phishing" if "verify" in task.input else "legitimate"
        decide(store, project, "ana", task.item.id, "accepted", task.input, "", label)
    return project


def test_freeze_is_immutable_content_hashed_and_stratified(store, tmp_path):
    project = labeled_project(store, tmp_path)
    version = freeze_version(store, project, Template("instruction"), SplitPlan((0.6, 0.2, 0.2), seed=3))
    assert version.name == "v1" and len(version.content_hash) == 16
    counts = version.counts
    assert counts["train"] + counts["validation"] + counts["test"] == 20
    assert counts["labels"] == {"phishing": 7, "legitimate": 13}
    assert freeze_version(store, project, Template("instruction"), SplitPlan((0.6, 0.2, 0.2), seed=3)).name == "v1"
    other = freeze_version(store, project, Template("instruction"), SplitPlan((0.6, 0.2, 0.2), seed=4))
    assert other.name == "v2" and other.content_hash != version.content_hash
    rows = store.version_rows(version.id)
    for split in ("train", "validation", "test"):
        phishing = sum(r.label == "phishing" for r in rows if r.split == split)
        assert phishing >= 1  # every split sees both labels
    with pytest.raises(VersionError, match="no accepted examples"):
        freeze_version(store, store.create_project("empty", "generation"))


def test_hf_export_round_trip(store, tmp_path):
    from datasets import load_from_disk

    project = labeled_project(store, tmp_path)
    version = freeze_version(store, project, Template("alpaca", system="Classify the email."))
    export_version(store, version, "hf", tmp_path / "hf")
    loaded = load_from_disk(str(tmp_path / "hf"))
    rows = store.version_rows(version.id)
    assert {split: len(loaded[split]) for split in loaded} == {
        s: c for s, c in version.counts.items() if s != "labels" and c}
    exported = sorted((r["input"], r["label"]) for split in loaded for r in loaded[split])
    assert exported == sorted((r.input, r.label) for r in rows)
    first = loaded["train"][0]
    assert first["messages"][0] == {"role": "system", "content": "Classify the email."}
    assert first["prompt"].startswith("Classify the email.") and first["completion"] == first["label"]


def test_jsonl_and_parquet_exports(store, tmp_path):
    import pandas as pd

    project = labeled_project(store, tmp_path)
    version = freeze_version(store, project, Template("instruction"))
    export_version(store, version, "jsonl", tmp_path / "chat")
    line = json.loads((tmp_path / "chat" / "train.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in line["messages"]] == ["user", "assistant"]
    export_version(store, version, "jsonl-prompt", tmp_path / "pc")
    line = json.loads((tmp_path / "pc" / "train.jsonl").read_text().splitlines()[0])
    assert line["prompt"].startswith("[INST]") and line["completion"].strip() in ("phishing", "legitimate")
    export_version(store, version, "parquet", tmp_path / "pq")
    frame = pd.read_parquet(tmp_path / "pq" / "train.parquet")
    assert len(frame) == version.counts["train"]
    with pytest.raises(VersionError, match="Unknown export format"):
        export_version(store, version, "xlsx", tmp_path / "x")


def test_cli_freeze_versions_export(tmp_path):
    import subprocess
    import sys

    home = str(tmp_path / "home")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"question": f"Where is parcel {n}?", "response": f"Parcel {n} is in Leeds."})
                               for n in range(12)))

    def cli(*args):
        result = subprocess.run([sys.executable, "-m", "ftstudio", "--home", home, *args],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    report = json.loads(cli("import", str(pairs), "--project", "replies", "--json"))
    assert report["paired"] == 12  # question/response columns become examples in one step
    frozen = json.loads(cli("freeze", "--project", "replies", "--split", "0.5,0.25,0.25", "--seed", "1",
                            "--template", "alpaca", "--json"))
    assert frozen["counts"]["train"] == 6
    listed = json.loads(cli("versions", "--project", "replies", "--json"))
    assert listed[0]["name"] == "v1"
    cli("export", "--project", "replies", "--version", "v1", "--format", "jsonl", str(tmp_path / "out"))
    assert len((tmp_path / "out" / "train.jsonl").read_text().splitlines()) == 6


def test_a_saved_dataset_dict_imports_as_a_project_folder_or_zip(store, tmp_path):
    import shutil

    from ftstudio.importing import import_paths as import_into

    project = labeled_project(store, tmp_path)
    version = freeze_version(store, project, Template("instruction"))
    export_version(store, version, "hf", tmp_path / "hf")
    again = store.create_project("again", "classification", labels=["phishing", "legitimate"])
    report = import_into(store, again, [tmp_path / "hf"])
    assert report.imported == 20 and report.paired == 20 and not report.errors
    assert sorted(e.label for e in store.list_examples(again.id)) == sorted(r.label for r in store.version_rows(version.id))
    zipped = shutil.make_archive(str(tmp_path / "hf-zip"), "zip", tmp_path / "hf")
    chat = store.create_project("chat", "generation")
    report = import_into(store, chat, [zipped])
    assert report.imported == 20 and report.paired == 20
    example = store.list_examples(chat.id)[0]
    assert example.input.startswith("Message") and example.output in ("phishing", "legitimate")


def test_a_tiny_project_is_told_what_empty_splits_mean_before_freezing(store, tmp_path):
    from ftstudio.versions import planned_counts, split_warnings

    project = labeled_project(store, tmp_path, count=4)
    counts = planned_counts(store, project, SplitPlan())
    assert sum(counts.values()) == 4 and counts["train"] >= 3
    warnings = " ".join(split_warnings(counts))
    assert "no validation loss" in warnings and "nothing to compare side by side" in warnings
    assert store.list_versions(project.id) == []  # planning froze nothing
    assert split_warnings({"train": 8, "validation": 1, "test": 1}) == []
