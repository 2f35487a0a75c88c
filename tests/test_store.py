import json
import subprocess
import sys

import pytest

from ftstudio.store import MIGRATIONS, StoreBusyError, StoreError, open_store, write_app_marker


def test_migrations_are_recorded_once(settings):
    first = open_store(settings.database_path)
    assert first.applied_migrations() == [name for name, _ in MIGRATIONS]
    first.create_project("kept", "generation")
    first.close()
    again = open_store(settings.database_path)  # re-opening applies nothing twice and keeps the data
    assert again.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert [p.name for p in again.list_projects()] == ["kept"]
    again.close()


def test_projects_need_unique_names_and_known_task_types(store):
    store.create_project("emails", "classification", labels=["phishing", "legitimate"])
    with pytest.raises(StoreError, match="already exists"):
        store.create_project("emails", "generation")
    with pytest.raises(StoreError, match="Unknown task type"):
        store.create_project("other", "regression")
    with pytest.raises(StoreError, match="needs a name"):
        store.create_project("   ")
    assert store.find_project("emails").labels == ["phishing", "legitimate"]
    assert store.audit_log()[0].action == "create_project"


def test_a_second_process_gets_a_clear_message_naming_the_app(settings, store):
    write_app_marker(settings.home, "http://127.0.0.1:7861")
    code = (
        "import sys\nfrom ftstudio.store import open_store, StoreBusyError\n"
        f"try:\n    open_store({str(settings.database_path)!r})\n"
        "except StoreBusyError as e:\n    print(e); sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "http://127.0.0.1:7861" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_reports_a_busy_studio_without_a_traceback(settings, store):
    write_app_marker(settings.home, "http://127.0.0.1:7862")
    result = subprocess.run([sys.executable, "-m", "ftstudio", "--home", str(settings.home), "projects"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "http://127.0.0.1:7862" in result.stderr and "Traceback" not in result.stderr


def test_projects_rename_and_delete_with_everything_under_them(store, tmp_path):
    from ftstudio.importing import import_paths

    posts = tmp_path / "posts.md"
    posts.write_text("One post.\n---\nTwo post.\n")
    project = store.create_project("Drafts", "generation")
    import_paths(store, project, [posts])
    other = store.create_project("Other", "generation")
    with pytest.raises(StoreError, match="already exists"):
        store.rename_project(project.id, "OTHER")
    renamed = store.rename_project(project.id, "Maya's drafts")
    assert store.find_project("maya's DRAFTS").id == project.id and renamed.name == "Maya's drafts"
    item = store.list_items(project.id).rows[0]
    store.delete_item(item.id, user_name="admin")
    assert store.count_items(project.id) == 1
    removed = store.delete_project(project.id, user_name="admin")
    assert removed["items"] == 1 and removed["projects"] == 1
    assert store.find_project("Maya's drafts") is None and store.find_project("Other").id == other.id
    actions = [entry.action for entry in store.audit_log()]
    assert actions[:3] == ["delete_project", "delete_item", "rename_project"]
    assert store.audit_log()[0].user_name == "admin"


def test_classification_projects_need_labels(store):
    with pytest.raises(StoreError, match="at least two labels"):
        store.create_project("mail", "classification")
    project = store.create_project("mail", "classification", labels=["spam", " ham ", "Spam"])
    assert project.labels == ["spam", "ham"]
    with pytest.raises(StoreError, match="at least two labels"):
        store.update_project(project.id, labels=["spam"])
