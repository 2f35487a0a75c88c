"""The studio database: the only module that imports duckdb.

One connection per process, a cursor per thread (DuckDB connections are not
thread-safe, cursors are). The app process is the only writer: DuckDB lets one
process open a file for writing, so a second process gets `StoreBusyError`
naming the app that holds it. Schema changes are append-only named migrations,
recorded in `schema_migrations`. SQL is always parameterized.
"""

from __future__ import annotations

import json
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pyarrow as pa

TASK_TYPES = ("generation", "classification", "structured")

# Append-only: never edit or reorder an applied migration; add a new one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE SEQUENCE users_id_seq;
        CREATE TABLE users (
            id BIGINT PRIMARY KEY DEFAULT nextval('users_id_seq'),
            name VARCHAR NOT NULL UNIQUE,
            role VARCHAR NOT NULL DEFAULT 'annotator',   -- admin | annotator | reviewer
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE projects_id_seq;
        CREATE TABLE projects (
            id BIGINT PRIMARY KEY DEFAULT nextval('projects_id_seq'),
            name VARCHAR NOT NULL UNIQUE,
            task_type VARCHAR NOT NULL,                  -- generation | classification | structured
            description VARCHAR NOT NULL DEFAULT '',
            labels JSON,                                 -- classification: the label set
            json_schema JSON,                            -- structured: the schema outputs must validate against
            settings JSON,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE imports_id_seq;
        CREATE TABLE imports (
            id BIGINT PRIMARY KEY DEFAULT nextval('imports_id_seq'),
            project_id BIGINT NOT NULL,
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            options JSON,                                -- PII masking chosen, column mapping
            sources JSON,                                -- what the user gave
            imported INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            errors JSON                                  -- [{source, reason}]
        );
        CREATE SEQUENCE items_id_seq;
        CREATE TABLE items (
            id BIGINT PRIMARY KEY DEFAULT nextval('items_id_seq'),
            project_id BIGINT NOT NULL,
            import_id BIGINT NOT NULL,
            content_hash VARCHAR NOT NULL,               -- of the normalised text, for dedup
            kind VARCHAR NOT NULL,                       -- post | email | row
            source VARCHAR NOT NULL,
            title VARCHAR,
            author VARCHAR,
            written_at TIMESTAMP,                        -- when the author wrote it (UTC), if known
            text VARCHAR NOT NULL,
            metadata JSON,
            pii_masked BOOLEAN NOT NULL DEFAULT false,
            imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX items_project_hash ON items (project_id, content_hash);
        CREATE SEQUENCE examples_id_seq;
        CREATE TABLE examples (
            id BIGINT PRIMARY KEY DEFAULT nextval('examples_id_seq'),
            project_id BIGINT NOT NULL,
            item_id BIGINT,                              -- null for examples imported already paired
            input VARCHAR,
            output VARCHAR,
            label VARCHAR,
            status VARCHAR NOT NULL DEFAULT 'accepted',  -- accepted | skipped | flagged
            draft JSON,                                  -- model drafts used, and how much they were edited
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE example_history_id_seq;
        CREATE TABLE example_history (
            id BIGINT PRIMARY KEY DEFAULT nextval('example_history_id_seq'),
            example_id BIGINT NOT NULL,
            previous JSON NOT NULL,                      -- the example as it was before this change
            changed_by VARCHAR,
            changed_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE leases (
            item_id BIGINT NOT NULL,
            user_name VARCHAR NOT NULL,
            expires_at TIMESTAMP NOT NULL
        );
        CREATE SEQUENCE dataset_versions_id_seq;
        CREATE TABLE dataset_versions (
            id BIGINT PRIMARY KEY DEFAULT nextval('dataset_versions_id_seq'),
            project_id BIGINT NOT NULL,
            name VARCHAR NOT NULL,
            content_hash VARCHAR NOT NULL,
            template JSON NOT NULL,
            split JSON NOT NULL,                         -- fractions and seed
            counts JSON NOT NULL,
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            UNIQUE (project_id, name)
        );
        CREATE TABLE dataset_rows (
            version_id BIGINT NOT NULL,
            example_id BIGINT NOT NULL,
            split VARCHAR NOT NULL,                      -- train | validation | test
            input VARCHAR,
            output VARCHAR,
            label VARCHAR
        );
        CREATE SEQUENCE runs_id_seq;
        CREATE TABLE runs (
            id BIGINT PRIMARY KEY DEFAULT nextval('runs_id_seq'),
            project_id BIGINT NOT NULL,
            version_id BIGINT,
            name VARCHAR NOT NULL,
            base_model VARCHAR NOT NULL,
            method VARCHAR NOT NULL,                     -- lora | qlora
            config JSON NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'queued',    -- queued | running | cancelled | interrupted | failed | finished
            run_dir VARCHAR NOT NULL,
            pid INTEGER,
            step INTEGER NOT NULL DEFAULT 0,
            max_steps INTEGER,
            train_loss DOUBLE,
            eval_loss DOUBLE,
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            started_at TIMESTAMP,
            finished_at TIMESTAMP
        );
        CREATE SEQUENCE generations_id_seq;
        CREATE TABLE generations (
            id BIGINT PRIMARY KEY DEFAULT nextval('generations_id_seq'),
            project_id BIGINT NOT NULL,
            run_id BIGINT,                               -- null for the base model
            model VARCHAR NOT NULL,
            version_id BIGINT,
            example_id BIGINT,
            prompt VARCHAR NOT NULL,
            output VARCHAR NOT NULL,
            config JSON,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE ratings_id_seq;
        CREATE TABLE ratings (
            id BIGINT PRIMARY KEY DEFAULT nextval('ratings_id_seq'),
            generation_a BIGINT NOT NULL,
            generation_b BIGINT NOT NULL,
            shown_left BIGINT NOT NULL,                  -- which generation the rater saw on the left
            winner VARCHAR NOT NULL,                     -- a | b | tie | both_bad
            rater VARCHAR,
            comment VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE judgments_id_seq;
        CREATE TABLE judgments (
            id BIGINT PRIMARY KEY DEFAULT nextval('judgments_id_seq'),
            generation_a BIGINT NOT NULL,
            generation_b BIGINT,                         -- null in single-answer grading
            judge VARCHAR NOT NULL,
            mode VARCHAR NOT NULL,                       -- pairwise | single
            verdict VARCHAR,
            score DOUBLE,
            raw JSON,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE audit_id_seq;
        CREATE TABLE audit (
            id BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
            at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            user_name VARCHAR,
            action VARCHAR NOT NULL,
            target VARCHAR,
            details JSON
        );
        """,
    ),
]

ITEM_COLUMNS = ("content_hash", "kind", "source", "title", "author", "written_at", "text", "metadata", "pii_masked")

ITEM_ARROW_SCHEMA = pa.schema(
    [
        ("content_hash", pa.string()),
        ("kind", pa.string()),
        ("source", pa.string()),
        ("title", pa.string()),
        ("author", pa.string()),
        ("written_at", pa.timestamp("us")),
        ("text", pa.string()),
        ("metadata", pa.string()),
        ("pii_masked", pa.bool_()),
    ]
)


class StoreError(Exception):
    """A problem with the studio database that the user can act on."""


class StoreBusyError(StoreError):
    """Another process (normally the running app) holds the database for writing."""


@dataclass
class Project:
    id: int
    name: str
    task_type: str
    description: str
    labels: list[str] | None
    created_at: Any


@dataclass
class ItemPage:
    rows: list[dict]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _busy_message(path: Path, error: Exception) -> str:
    """Name the process holding the lock (and the app's address, if it wrote one) instead of a traceback."""
    pid_match = re.search(r"PID (\d+)", str(error))
    holder = f"process {pid_match.group(1)}" if pid_match else "another process"
    app_file = path.parent / "app.json"
    if app_file.exists():
        try:
            app = json.loads(app_file.read_text())
            if not pid_match or str(app.get("pid")) == pid_match.group(1):
                holder = f"the ftstudio app at {app.get('url')} (pid {app.get('pid')})"
        except (OSError, ValueError):
            pass
    return (
        f"The studio database {path} is open in {holder}. Only one process may write to it: "
        "use that app in the browser, stop it first, or point FTSTUDIO_HOME at another folder."
    )


class Store:
    """The studio's DuckDB database."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = duckdb.connect(str(self.path))
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                raise StoreBusyError(_busy_message(self.path, error)) from None
            raise StoreError(f"Could not open the studio database {self.path}: {error}") from None
        self._local = threading.local()
        self._migrate()

    # --- connection plumbing -------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB cursors are per thread; the connection is shared)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._connection.cursor()
            self._local.cursor = cursor
        return cursor

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: a failure (or a kill) inside leaves nothing of it behind."""
        cursor = self.cursor()
        cursor.execute("BEGIN TRANSACTION")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def close(self) -> None:
        self._connection.close()

    def _migrate(self) -> None:
        cursor = self.cursor()
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, "
            "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        applied = {row[0] for row in cursor.execute("SELECT name FROM schema_migrations").fetchall()}
        for name, sql in MIGRATIONS:
            if name in applied:
                continue
            with self.transaction() as tx:
                tx.execute(sql)
                tx.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self.cursor().execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]

    def _dicts(self, sql: str, params: list | tuple = ()) -> list[dict]:
        cursor = self.cursor().execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    # --- audit ----------------------------------------------------------------

    def audit(self, action: str, target: str | None = None, details: dict | None = None,
              user_name: str | None = None, cursor=None) -> None:
        (cursor or self.cursor()).execute(
            "INSERT INTO audit (user_name, action, target, details) VALUES (?, ?, ?, ?)",
            [user_name, action, target, json.dumps(details or {})],
        )

    def audit_log(self, limit: int = 100) -> list[dict]:
        return self._dicts("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit])

    # --- projects -------------------------------------------------------------

    def create_project(self, name: str, task_type: str = "generation", description: str = "",
                       labels: list[str] | None = None, user_name: str | None = None) -> Project:
        name = name.strip()
        if not name:
            raise StoreError("A project needs a name.")
        if task_type not in TASK_TYPES:
            raise StoreError(f"Unknown task type {task_type!r}: choose one of {', '.join(TASK_TYPES)}.")
        if self.find_project(name) is not None:
            raise StoreError(f"A project named {name!r} already exists: pick it, or choose another name.")
        with self.transaction() as tx:
            (project_id,) = tx.execute(
                "INSERT INTO projects (name, task_type, description, labels) VALUES (?, ?, ?, ?) RETURNING id",
                [name, task_type, description, json.dumps(labels) if labels else None],
            ).fetchone()
            self.audit("create_project", name, {"task_type": task_type}, user_name, tx)
        return self.get_project(project_id)

    def _project(self, row: dict) -> Project:
        return Project(
            id=row["id"], name=row["name"], task_type=row["task_type"], description=row["description"],
            labels=json.loads(row["labels"]) if row["labels"] else None, created_at=row["created_at"],
        )

    def get_project(self, project_id: int) -> Project:
        rows = self._dicts("SELECT * FROM projects WHERE id = ?", [project_id])
        if not rows:
            raise StoreError(f"No project with id {project_id}.")
        return self._project(rows[0])

    def find_project(self, name: str) -> Project | None:
        rows = self._dicts("SELECT * FROM projects WHERE name = ?", [name.strip()])
        return self._project(rows[0]) if rows else None

    def list_projects(self) -> list[Project]:
        return [self._project(row) for row in self._dicts("SELECT * FROM projects ORDER BY name")]

    # --- imports and items ----------------------------------------------------

    def begin_import(self, tx, project_id: int, sources: list[str], options: dict, user_name: str | None) -> int:
        (import_id,) = tx.execute(
            "INSERT INTO imports (project_id, created_by, options, sources) VALUES (?, ?, ?, ?) RETURNING id",
            [project_id, user_name, json.dumps(options), json.dumps(sources)],
        ).fetchone()
        return import_id

    def finish_import(self, tx, import_id: int, imported: int, duplicates: int, errors: list[dict]) -> None:
        tx.execute(
            "UPDATE imports SET imported = ?, duplicates = ?, errors = ? WHERE id = ?",
            [imported, duplicates, json.dumps(errors), import_id],
        )

    def insert_new_items(self, tx, project_id: int, import_id: int, batch: pa.Table) -> int:
        """Insert the rows of `batch` whose content hash the project does not hold yet; return how many.

        One set-based INSERT over an Arrow table: DuckDB reads it without copying,
        which is what makes bulk import fast (one INSERT per row is the naive baseline).
        """
        tx.register("incoming_items", batch)
        try:
            (inserted,) = tx.execute(
                f"""
                INSERT INTO items (project_id, import_id, {', '.join(ITEM_COLUMNS)})
                SELECT ?, ?, {', '.join('b.' + c for c in ITEM_COLUMNS)}
                FROM incoming_items b
                WHERE NOT EXISTS (
                    SELECT 1 FROM items i WHERE i.project_id = ? AND i.content_hash = b.content_hash
                )
                """,
                [project_id, import_id, project_id],
            ).fetchone()
        finally:
            tx.unregister("incoming_items")
        return int(inserted)

    def insert_item_naive(self, tx, project_id: int, import_id: int, row: dict) -> bool:
        """The textbook way, kept only as the ingest benchmark's baseline: a lookup and one INSERT per row."""
        exists = tx.execute("SELECT 1 FROM items WHERE project_id = ? AND content_hash = ? LIMIT 1",
                            [project_id, row["content_hash"]]).fetchone()
        if exists:
            return False
        tx.execute(
            f"INSERT INTO items (project_id, import_id, {', '.join(ITEM_COLUMNS)}) VALUES (?, ?, {', '.join('?' * len(ITEM_COLUMNS))})",
            [project_id, import_id] + [row[c] for c in ITEM_COLUMNS],
        )
        return True

    def list_imports(self, project_id: int) -> list[dict]:
        return self._dicts("SELECT * FROM imports WHERE project_id = ? ORDER BY id DESC", [project_id])

    def count_items(self, project_id: int) -> int:
        return self.cursor().execute("SELECT count(*) FROM items WHERE project_id = ?", [project_id]).fetchone()[0]

    def list_items(self, project_id: int, search: str = "", page: int = 1, page_size: int = 50,
                   kind: str | None = None) -> ItemPage:
        """One page of a project's items, newest import first, filtered by a case-insensitive search."""
        where = ["project_id = ?"]
        params: list[Any] = [project_id]
        if search.strip():
            # Escape LIKE wildcards so that a search for '50%' means the text '50%'.
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search.strip()) + "%"
            where.append("(text ILIKE ? ESCAPE '\\' OR title ILIKE ? ESCAPE '\\' OR author ILIKE ? ESCAPE '\\')")
            params += [pattern, pattern, pattern]
        if kind:
            where.append("kind = ?")
            params.append(kind)
        clause = " AND ".join(where)
        total = self.cursor().execute(f"SELECT count(*) FROM items WHERE {clause}", params).fetchone()[0]
        page = max(1, min(page, max(1, -(-total // page_size))))
        rows = self._dicts(
            f"""SELECT id, kind, title, author, written_at, left(text, 300) AS preview, length(text) AS chars, source
                FROM items WHERE {clause} ORDER BY id DESC LIMIT ? OFFSET ?""",
            params + [page_size, (page - 1) * page_size],
        )
        return ItemPage(rows=rows, total=total, page=page, page_size=page_size)

    def get_item(self, item_id: int) -> dict | None:
        rows = self._dicts("SELECT * FROM items WHERE id = ?", [item_id])
        if not rows:
            return None
        item = rows[0]
        item["metadata"] = json.loads(item["metadata"]) if item["metadata"] else {}
        return item


def open_store(path: Path | str) -> Store:
    """Open (creating and migrating if needed) the studio database at `path`."""
    return Store(path)


def write_app_marker(home: Path, url: str) -> Path:
    """Record which process serves this studio, so a second process can name it when the lock is taken."""
    marker = home / "app.json"
    marker.write_text(json.dumps({"pid": os.getpid(), "url": url}))
    return marker
