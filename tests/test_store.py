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
