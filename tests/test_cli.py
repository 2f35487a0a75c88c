import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftstudio.cli import build_parser, main


def subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


@pytest.mark.parametrize("command", subcommands())
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: ftstudio" in out and len(out.splitlines()) > 3


def test_the_top_level_help_formats(capsys):
    # argparse formats help with %-interpolation: a bare "95%" in any help text breaks `ftstudio --help`.
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in subcommands())


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftstudio", *args], capture_output=True, text=True, timeout=120)


def test_import_then_list_items_as_json(tmp_path):
    home = tmp_path / "home"
    posts = tmp_path / "posts.md"
    posts.write_text("One post.\n---\nTwo post.\n---\nOne post.\n")
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"text": "fine"}\n{not json\n')
    result = run_cli("--home", str(home), "import", str(posts), str(bad), "--project", "mine", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] == 2 and report["duplicates"] == 1 and report["skipped"] == 1
    assert report["errors"][0]["source"].startswith("broken.jsonl")

    listing = json.loads(run_cli("--home", str(home), "items", "--project", "mine", "--json").stdout)
    assert listing["total"] == 2 and {row["preview"] for row in listing["items"]} == {"One post.", "Two post."}
    item = json.loads(run_cli("--home", str(home), "item", str(listing["items"][0]["id"]), "--json").stdout)
    assert item["text"] in ("One post.", "Two post.")


def test_errors_are_one_clear_line(tmp_path):
    home = str(tmp_path / "home")
    missing = run_cli("--home", home, "import", str(tmp_path / "nope.mbox"))
    assert missing.returncode == 2 and "Not found" in missing.stderr and "Traceback" not in missing.stderr
    unknown = run_cli("--home", home, "items", "--project", "ghost")
    assert unknown.returncode == 2 and "No project named 'ghost'" in unknown.stderr


def test_label_in_the_terminal_then_agreement(tmp_path):
    home = str(tmp_path / "home")
    mails = tmp_path / "mails.md"
    mails.write_text("Verify your password now\n---\nPallets arrive at nine\n---\nYour parcel is on hold, click here")
    unlabeled = run_cli("--home", home, "import", str(mails), "--project", "mail", "--task", "classification")
    assert unlabeled.returncode == 2 and "needs at least two labels" in unlabeled.stderr
    assert run_cli("--home", home, "import", str(mails), "--project", "mail", "--task", "classification",
                   "--labels", "phishing,legitimate").returncode == 0
    assert run_cli("--home", home, "projects").returncode == 0
    # Two annotators per item; then each annotator answers through standard input.
    from ftstudio.store import open_store

    store = open_store(tmp_path / "home" / "studio.duckdb")
    project = store.find_project("mail")
    assert project.labels == ["phishing", "legitimate"]
    store.update_project(project.id, settings={"overlap": 2})
    store.close()
    for user, answers in (("ana", "1\n2\n1\n"), ("ben", "1\n2\n2\n")):
        result = subprocess.run([sys.executable, "-m", "ftstudio", "--home", home, "label", "--project", "mail",
                                 "--user", user], input=answers, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and "Nothing left for" in result.stdout, result.stderr
    agreement = json.loads(run_cli("--home", home, "agreement", "--project", "mail", "--json").stdout)
    assert agreement["method"] == "cohen" and agreement["items"] == 3 and agreement["annotators"] == ["ana", "ben"]


def test_rename_and_delete_from_the_terminal(tmp_path):
    home = str(tmp_path / "home")
    posts = tmp_path / "posts.md"
    posts.write_text("One post.\n---\nTwo post.\n")
    assert run_cli("--home", home, "import", str(posts), "--project", "drafts").returncode == 0
    assert run_cli("--home", home, "projects", "--rename", "drafts", "--to", "Maya's posts").returncode == 0
    refused = run_cli("--home", home, "projects", "--delete", "maya's posts")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    listing = json.loads(run_cli("--home", home, "items", "--project", "Maya's posts", "--json").stdout)
    assert run_cli("--home", home, "item", str(listing["items"][0]["id"]), "--delete", "--yes").returncode == 0
    deleted = run_cli("--home", home, "projects", "--delete", "maya's posts", "--yes", "--json")
    assert deleted.returncode == 0 and "1 items" in deleted.stderr and json.loads(deleted.stdout) == []


def test_a_studio_with_one_project_needs_no_project_flag(tmp_path):
    home = str(tmp_path / "home")
    posts = tmp_path / "posts.md"
    posts.write_text("One post.\n---\nTwo post.\n")
    assert run_cli("--home", home, "import", str(posts), "--project", "drafts").returncode == 0
    versions = run_cli("--home", home, "versions")
    assert versions.returncode == 0 and "'drafts' has no versions yet" in versions.stdout, versions.stderr
    assert json.loads(run_cli("--home", home, "items", "--json").stdout)["project"] == "drafts"
    assert run_cli("--home", home, "projects", "--create", "other").returncode == 0
    several = run_cli("--home", home, "versions")
    assert several.returncode == 2 and "Traceback" not in several.stderr
    assert "'drafts', 'other'" in several.stderr and "--project" in several.stderr
    assert run_cli("--home", home, "versions", "--project", "other").returncode == 0


def test_an_empty_studio_says_how_to_get_a_project(tmp_path):
    result = run_cli("--home", str(tmp_path / "home"), "versions")
    assert result.returncode == 2 and "no projects yet" in result.stderr and "Traceback" not in result.stderr


def test_runs_lists_losses_to_four_significant_digits(store, settings, capsys):
    project = store.create_project("posts", "generation")
    run_id = store.create_run(project.id, None, "run", "tiny", "lora", {}, str(settings.runs_dir / "run-1"), None,
                              status="finished")
    store.update_run(run_id, step=3, max_steps=3, train_loss=1.2345678901234567, eval_loss=0.000123456789012345)
    store.close()
    assert main(["--home", str(settings.home), "runs"]) == 0
    listed = capsys.readouterr().out
    assert "loss 1.235 " in listed and "val 0.0001235" in listed and "1.23456" not in listed
    assert main(["--home", str(settings.home), "runs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["train_loss"] == 1.2345678901234567


class SameFirstAnswers:
    """Speaks the generation backend protocol: both systems write the same words on the first two inputs."""

    def generate(self, base_model_path, adapters, requests, settings, on_results, should_stop=lambda: False,
                 on_started=None):
        prompts = sorted({r["prompt"] for r in requests})
        on_results([{"cache_key": r["cache_key"], "seconds": 0.01,
                     "output": "In depot 1." if prompts.index(r["prompt"]) < 2 else f"{r['cache_key'][:6]} answer"}
                    for r in requests])
        return "finished"


def test_judge_says_how_many_identical_pairs_it_skipped(store, settings, tiny_model_dir, tmp_path, chat_server,
                                                        capsys):
    from ftstudio.bench.chat_server import Reply
    from ftstudio.evaluation.compare import generate_and_review
    from tests.evaluation_fixtures import finished_run

    _, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    generate_and_review(store, settings, run, backend=SameFirstAnswers())
    store.close()
    server = chat_server(default=Reply("The first. [[A]]"))
    assert main(["--home", str(settings.home), "judge", "--run", str(run.id), "--judge", server.url,
                 "--judge-model", "judge-1"]) == 0
    assert "2 pairs had the same words from both systems: skipped" in capsys.readouterr().out


def test_samples_are_listed_and_loaded_by_name_or_all(tmp_path):
    home = str(tmp_path / "home")
    listed = json.loads(run_cli("samples", "--json").stdout)
    assert [s["key"] for s in listed] == ["posts", "emails", "qa"]
    assert listed[2]["paths"] == ["qa_pairs.jsonl"] and listed[1]["labels"] == ["phishing", "legitimate"]
    loaded = run_cli("--home", home, "samples", "load", "qa", "--json")
    assert loaded.returncode == 0, loaded.stderr
    (report,) = json.loads(loaded.stdout)
    assert report["project"] == "Sample: support Q&A" and report["imported"] == 30 and report["paired"] == 30
    everything = run_cli("--home", home, "samples", "load", "all")
    assert everything.returncode == 0 and everything.stdout.count("Imported") == 3, everything.stderr
    assert "Imported 0 item(s) into \u201cSample: support Q&A\u201d, 30 duplicate(s)" in everything.stdout
    projects = json.loads(run_cli("--home", home, "projects", "--json").stdout)
    assert sorted(p["name"] for p in projects) == ["Sample: LinkedIn posts", "Sample: phishing emails",
                                                   "Sample: support Q&A"]
    unknown = run_cli("--home", home, "samples", "load", "tweets")
    assert unknown.returncode == 2 and "posts, emails, qa" in unknown.stderr and "Traceback" not in unknown.stderr


def test_a_new_classification_project_takes_its_labels_from_the_label_column(tmp_path):
    home = str(tmp_path / "home")
    mails = tmp_path / "mails.csv"
    mails.write_text("text,label\nVerify your password now,phishing\nPallets arrive at nine,legitimate\n"
                     "Your parcel is on hold: click here,phishing\n")
    imported = run_cli("--home", home, "import", str(mails), "--project", "phish", "--task", "classification")
    assert imported.returncode == 0, imported.stderr
    assert "Labels found in the file's label column: phishing, legitimate." in imported.stdout
    assert "3 ready-made example(s)" in imported.stdout
    as_json = run_cli("--home", home, "import", str(mails), "--project", "again", "--task", "classification",
                      "--json")
    assert json.loads(as_json.stdout)["labels_from_file"] == ["phishing", "legitimate"]
    from ftstudio.store import open_store

    store = open_store(tmp_path / "home" / "studio.duckdb")
    try:
        assert store.find_project("phish").labels == ["phishing", "legitimate"]
    finally:
        store.close()
    given = run_cli("--home", home, "import", str(mails), "--project", "given", "--task", "classification",
                    "--labels", "spam,ham,phishing,legitimate", "--json")
    assert json.loads(given.stdout)["labels_from_file"] == []


def test_no_label_column_and_one_label_are_refused_in_words_the_cli_can_act_on(tmp_path):
    home = str(tmp_path / "home")
    posts = tmp_path / "posts.md"
    posts.write_text("Verify your password now\n---\nPallets arrive at nine\n")
    unlabeled = run_cli("--home", home, "import", str(posts), "--project", "mail", "--task", "classification")
    assert unlabeled.returncode == 2 and "needs at least two labels" in unlabeled.stderr
    assert "--labels" in unlabeled.stderr and "box" not in unlabeled.stderr
    one = tmp_path / "one.csv"
    one.write_text("text,label\nVerify your password now,spam\nClick here,spam\n")
    single = run_cli("--home", home, "import", str(one), "--project", "mail", "--task", "classification")
    assert single.returncode == 2 and "only 'spam'" in single.stderr and "--labels" in single.stderr
    assert json.loads(run_cli("--home", home, "projects", "--json").stdout) == []
