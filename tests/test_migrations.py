"""Migrations applied to a studio made by an older version: what they add or drop, with its data kept."""

from ftstudio.store import MIGRATIONS, open_store


def test_the_unused_users_table_is_dropped_from_an_existing_studio(settings, monkeypatch):
    def tables(store) -> set[str]:
        return {row[0] for row in store.cursor().execute("SELECT table_name FROM information_schema.tables").fetchall()}

    before_the_drop = [m for m in MIGRATIONS if m[0] < "0005"]
    monkeypatch.setattr("ftstudio.store.connection.MIGRATIONS", before_the_drop)
    old = open_store(settings.database_path)  # a studio created before the drop
    old.create_project("kept", "generation")
    assert "users" in tables(old)
    old.close()
    monkeypatch.undo()
    store = open_store(settings.database_path)
    try:
        assert "users" not in tables(store) and "projects" in tables(store)
        assert [p.name for p in store.list_projects()] == ["kept"]
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    finally:
        store.close()
