import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ftstudio.bench.synthetic import write_mbox
from ftstudio.importing import ImportOptions, import_paths
from ftstudio.ingest.records import ColumnMapping
from ftstudio.store import open_store

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicates_are_found_within_and_across_imports(store, project, tmp_path):
    a = write(tmp_path / "a.md", "First post.\n---\nSecond   post.\n---\nfirst POST.")  # case and spaces differ
    report = import_paths(store, project, [a])
    assert (report.imported, report.duplicates) == (2, 1)
    b = write(tmp_path / "b.txt", "Second post.")
    again = import_paths(store, project, [b, a])
    assert (again.imported, again.duplicates) == (0, 4)
    assert store.count_items(project.id) == 2
    other = store.create_project("other", "generation")  # dedup is per project
    assert import_paths(store, other, [a]).imported == 2


def test_a_bad_file_is_skipped_with_a_reason_and_the_rest_imports(store, project, tmp_path):
    good = write(tmp_path / "good.md", "A perfectly fine post.")
    empty = write(tmp_path / "empty.txt", "")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 40)
    unknown = write(tmp_path / "slides.pptx", "x")
    report = import_paths(store, project, [good, empty, binary, unknown])
    assert report.imported == 1
    reasons = {Path(e.source).name: e.reason for e in report.errors}
    assert set(reasons) == {"empty.txt", "photo.txt", "slides.pptx"}
    assert all(len(reason) > 10 for reason in reasons.values())
    recorded = store.list_imports(project.id)[0]
    assert recorded.imported == 1 and "photo.txt" in json.dumps(recorded.errors)


def test_pii_masking_is_chosen_per_import_and_recorded(store, project, tmp_path):
    post = write(tmp_path / "contact.md", "Mail maya.okafor@example.com or call +1 555 0142 987 before 2024-03-14.")
    report = import_paths(store, project, [post], options=ImportOptions(mask_pii=("email", "phone")))
    item = store.get_item(store.list_items(project.id).rows[0].id)
    assert item.text == "Mail [EMAIL] or call [PHONE] before 2024-03-14."
    assert item.pii_masked is True
    assert store.list_imports(project.id)[0].options["mask_pii"] == ["email", "phone"]
    assert report.imported == 1
    with pytest.raises(ValueError, match="Unknown PII masker"):
        import_paths(store, project, [post], options=ImportOptions(mask_pii=("passport",)))


def test_emails_keep_their_metadata(store, project, tmp_path):
    mbox = write_mbox(tmp_path / "box.mbox", 12)
    report = import_paths(store, project, [mbox])
    assert report.imported + report.duplicates == 12 and not report.errors
    page = store.list_items(project.id, search="northwind-freiqht")
    rows = store.list_items(project.id, page_size=100).rows
    item = store.get_item(rows[-1].id)
    assert item.kind == "email" and item.metadata["message_id"]
    assert item.written_at is not None
    assert page.total >= 0


def test_table_column_mapping_override(store, project, tmp_path):
    table = write(tmp_path / "pairs.csv", "body,who\nHello from the CSV,Ana\n")
    report = import_paths(store, project, [table], options=ImportOptions(mapping=ColumnMapping(text="body", author="who")))
    assert report.imported == 1
    assert store.list_items(project.id).rows[0].author == "Ana"


def test_search_and_paging(store, project, tmp_path):
    posts = "\n---\n".join(f"Post number {n} about {'forecasts' if n % 3 == 0 else 'hiring'} 100%" for n in range(120))
    import_paths(store, project, [write(tmp_path / "many.md", posts)])
    page = store.list_items(project.id, page=2, page_size=50)
    assert (page.total, page.pages, len(page.rows)) == (120, 3, 50)
    assert store.list_items(project.id, search="FORECASTS").total == 40
    assert store.list_items(project.id, search="100%").total == 120
    assert store.list_items(project.id, search="1_0%").total == 0  # wildcards are literal
    assert store.list_items(project.id, page=99, page_size=50).page == 3


KILLER = """
import os, signal, sys
from pathlib import Path
from ftstudio.importing import import_paths
from ftstudio.store import open_store
store = open_store(sys.argv[1])
project = store.create_project("victim", "classification", labels=["a", "b"])
batches = 0
def progress(fraction, message):
    global batches
    batches += 1
    if batches == 3:  # batches are staged, the import not yet published: die hard, as a power cut would
        os.kill(os.getpid(), signal.SIGKILL)
import_paths(store, project, [Path(sys.argv[2])], progress=progress, batch_size=100)
"""


def test_a_killed_import_leaves_nothing_of_itself_behind(settings, tmp_path):
    mbox = write_mbox(tmp_path / "big.mbox", 600)
    result = subprocess.run([sys.executable, "-c", KILLER, str(settings.database_path), str(mbox)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    import duckdb  # the test looks under the store's feet: the killed import had committed staged batches

    with duckdb.connect(str(settings.database_path)) as raw:
        (staged,) = raw.execute("SELECT count(*) FROM items WHERE project_id < 0").fetchone()
    assert staged >= 100  # out of every project's sight, so nothing half-done was ever visible
    store = open_store(settings.database_path)  # and opening the store deletes them
    project = store.find_project("victim")
    assert project is not None  # committed before the import began
    assert store.count_items(project.id) == 0
    assert store.list_imports(project.id) == []
    assert import_paths(store, project, [mbox]).imported > 500  # and the studio works on
    assert store.discard_unfinished_imports() == 0
    store.close()


def test_a_failed_import_discards_what_it_staged(store, project, tmp_path):
    mbox = write_mbox(tmp_path / "inbox.mbox", 300)

    def fail_late(fraction, message):
        if fraction > 0.5:
            raise KeyboardInterrupt  # the user pressed Ctrl-C half-way

    with pytest.raises(KeyboardInterrupt):
        import_paths(store, project, [mbox], progress=fail_late, batch_size=50)
    assert store.count_items(project.id) == 0 and store.list_imports(project.id) == []
    assert store.discard_unfinished_imports() == 0  # nothing was left staged either
    messages: list[str] = []
    report = import_paths(store, project, [mbox], progress=lambda f, m: messages.append(m), batch_size=50)
    assert report.imported > 290
    assert any(" of " in m and "records read" in m and ("KB" in m or "MB" in m) for m in messages), messages[:3]


def test_the_bundled_samples_import_cleanly(store, settings):
    from ftstudio.samples import load_sample_projects

    reports = load_sample_projects(store, settings)
    assert [r.errors for r in reports] == [[], [], []]
    assert reports[0].imported >= 40 and reports[1].imported >= 36
    assert sum(r.imported for r in load_sample_projects(store, settings)) == 0


def test_the_import_memory_limit_is_lowered_for_the_duration_and_restored(store):
    from ftstudio.store import StoreError

    def current():
        return store.cursor().execute("SELECT current_setting('memory_limit')").fetchone()[0]

    before = current()
    with store.bounded_memory("100MB"):
        assert current() != before and current().endswith("MiB")
    assert current() == before
    with pytest.raises(StoreError, match="Not a memory size"):
        with store.bounded_memory("1GB'; DROP TABLE items; --"):
            pass
