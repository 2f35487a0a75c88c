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
from datetime import datetime, timedelta
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pyarrow as pa

from ftstudio.migrations import MIGRATIONS

TASK_TYPES = ("generation", "classification", "structured")
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
    json_schema: dict | None = None
    settings: dict = field(default_factory=dict)
    """Per-project choices: overlap (annotators per item), system prompt, template, lease seconds."""


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
        # Serialises read-then-write sequences (leases) between this process's threads;
        # DuckDB's optimistic concurrency would let two of them take the same item.
        self._write_lock = threading.RLock()
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
                       labels: list[str] | None = None, user_name: str | None = None,
                       json_schema: dict | None = None) -> Project:
        name = name.strip()
        if not name:
            raise StoreError("A project needs a name.")
        if task_type not in TASK_TYPES:
            raise StoreError(f"Unknown task type {task_type!r}: choose one of {', '.join(TASK_TYPES)}.")
        if self.find_project(name) is not None:
            raise StoreError(f"A project named {name!r} already exists: pick it, or choose another name.")
        with self.transaction() as tx:
            (project_id,) = tx.execute(
                "INSERT INTO projects (name, task_type, description, labels, json_schema) VALUES (?, ?, ?, ?, ?) RETURNING id",
                [name, task_type, description, json.dumps(labels) if labels else None,
                 json.dumps(json_schema) if json_schema else None],
            ).fetchone()
            self.audit("create_project", name, {"task_type": task_type}, user_name, tx)
        return self.get_project(project_id)

    def _project(self, row: dict) -> Project:
        return Project(
            id=row["id"], name=row["name"], task_type=row["task_type"], description=row["description"],
            labels=json.loads(row["labels"]) if row["labels"] else None, created_at=row["created_at"],
            json_schema=json.loads(row["json_schema"]) if row["json_schema"] else None,
            settings=json.loads(row["settings"]) if row["settings"] else {},
        )

    def update_project(self, project_id: int, labels: list[str] | None = None, json_schema: dict | None = None,
                       settings: dict | None = None, user_name: str | None = None) -> Project:
        """Change a project's label set, JSON Schema or settings (only those given)."""
        current = self.get_project(project_id)
        with self.transaction() as tx:
            tx.execute(
                "UPDATE projects SET labels = ?, json_schema = ?, settings = ? WHERE id = ?",
                [json.dumps(labels if labels is not None else current.labels),
                 json.dumps(json_schema if json_schema is not None else current.json_schema),
                 json.dumps({**current.settings, **(settings or {})}), project_id],
            )
            self.audit("update_project", current.name, {"labels": labels, "settings": settings}, user_name, tx)
        return self.get_project(project_id)

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

    # --- labeling: leases, examples, history ---------------------------------

    def lease_next_item(self, project_id: int, user_name: str, lease_seconds: int, overlap: int,
                        now: datetime | None = None) -> int | None:
        """The item this annotator should see next, leased to them; None when their queue is empty.

        An item is open while fewer than `overlap` people have accepted it and it is
        not leased to someone else; an annotator never gets an item they already
        handled. Their own unexpired lease comes back first, so a reload resumes.
        """
        now = now or datetime.now()
        with self._write_lock, self.transaction() as tx:
            tx.execute("DELETE FROM leases WHERE expires_at < ?", [now])
            row = tx.execute(
                """SELECT l.item_id FROM leases l JOIN items i ON i.id = l.item_id
                   WHERE i.project_id = ? AND l.user_name = ? ORDER BY l.item_id LIMIT 1""",
                [project_id, user_name],
            ).fetchone()
            if row is None:
                row = tx.execute(
                    """
                    SELECT i.id FROM items i
                    WHERE i.project_id = ?
                      AND NOT EXISTS (SELECT 1 FROM examples e WHERE e.item_id = i.id AND e.created_by = ?)
                      AND (SELECT count(*) FROM examples e WHERE e.item_id = i.id AND e.status = 'accepted')
                        + (SELECT count(*) FROM leases l WHERE l.item_id = i.id) < ?
                    ORDER BY i.id LIMIT 1
                    """,
                    [project_id, user_name, overlap],
                ).fetchone()
                if row is None:
                    return None
            tx.execute("DELETE FROM leases WHERE item_id = ? AND user_name = ?", [row[0], user_name])
            tx.execute("INSERT INTO leases VALUES (?, ?, ?)", [row[0], user_name, now + timedelta(seconds=lease_seconds)])
            return row[0]

    def release_lease(self, item_id: int, user_name: str) -> None:
        self.cursor().execute("DELETE FROM leases WHERE item_id = ? AND user_name = ?", [item_id, user_name])

    def save_example(self, project_id: int, item_id: int | None, user_name: str, status: str,
                     input: str | None = None, output: str | None = None, label: str | None = None,
                     draft: dict | None = None, origin: str = "labeled") -> int:
        """Record an annotator's decision on an item (accepted, skipped or flagged) and release its lease."""
        with self.transaction() as tx:
            (example_id,) = tx.execute(
                """INSERT INTO examples (project_id, item_id, input, output, label, status, origin, draft, created_by)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, item_id, input, output, label, status, origin, json.dumps(draft) if draft else None,
                 user_name],
            ).fetchone()
            if item_id is not None:
                tx.execute("DELETE FROM leases WHERE item_id = ? AND user_name = ?", [item_id, user_name])
        return example_id

    def get_example(self, example_id: int) -> dict | None:
        rows = self._dicts("SELECT * FROM examples WHERE id = ?", [example_id])
        return rows[0] if rows else None

    def update_example(self, example_id: int, user_name: str, **changes) -> dict:
        """Edit an example; what it was before goes to example_history."""
        allowed = {"input", "output", "label", "status"}
        if not set(changes) <= allowed:
            raise StoreError(f"Only {', '.join(sorted(allowed))} can be edited.")
        before = self.get_example(example_id)
        if before is None:
            raise StoreError(f"No example with id {example_id}.")
        with self.transaction() as tx:
            tx.execute("INSERT INTO example_history (example_id, previous, changed_by) VALUES (?, ?, ?)",
                       [example_id, json.dumps(before, default=str), user_name])
            assignments = ", ".join(f"{name} = ?" for name in changes)
            tx.execute(f"UPDATE examples SET {assignments}, updated_at = current_timestamp WHERE id = ?",
                       [*changes.values(), example_id])
        return self.get_example(example_id)

    def example_history(self, example_id: int) -> list[dict]:
        rows = self._dicts("SELECT * FROM example_history WHERE example_id = ? ORDER BY id", [example_id])
        for row in rows:
            row["previous"] = json.loads(row["previous"])
        return rows

    def undo_last_example(self, project_id: int, user_name: str, lease_seconds: int) -> int | None:
        """Take back this annotator's latest decision (kept in history) and give them that item again."""
        rows = self._dicts(
            "SELECT * FROM examples WHERE project_id = ? AND created_by = ? AND origin = 'labeled' ORDER BY id DESC LIMIT 1",
            [project_id, user_name],
        )
        if not rows:
            return None
        last = rows[0]
        with self._write_lock, self.transaction() as tx:
            tx.execute("INSERT INTO example_history (example_id, previous, changed_by) VALUES (?, ?, ?)",
                       [last["id"], json.dumps({**last, "undone": True}, default=str), user_name])
            tx.execute("DELETE FROM examples WHERE id = ?", [last["id"]])
            tx.execute("DELETE FROM leases WHERE user_name = ? AND item_id IN (SELECT id FROM items WHERE project_id = ?)",
                       [user_name, project_id])
            tx.execute("INSERT INTO leases VALUES (?, ?, ?)",
                       [last["item_id"], user_name, datetime.now() + timedelta(seconds=lease_seconds)])
        return last["item_id"]

    def labeling_counts(self, project_id: int, user_name: str, overlap: int) -> dict:
        (total, complete, mine, flagged) = self.cursor().execute(
            """
            WITH accepted AS (
                SELECT item_id, count(*) AS n FROM examples
                WHERE project_id = ? AND status = 'accepted' AND item_id IS NOT NULL GROUP BY item_id
            )
            SELECT (SELECT count(*) FROM items WHERE project_id = ?),
                   (SELECT count(*) FROM accepted WHERE n >= ?),
                   (SELECT count(*) FROM examples WHERE project_id = ? AND created_by = ? AND status = 'accepted'),
                   (SELECT count(*) FROM examples WHERE project_id = ? AND status = 'flagged')
            """,
            [project_id, project_id, overlap, project_id, user_name, project_id],
        ).fetchone()
        return {"items": total, "done": complete, "left": total - complete, "mine": mine, "flagged": flagged}

    def list_examples(self, project_id: int, status: str | None = "accepted") -> list[dict]:
        where, params = "project_id = ?", [project_id]
        if status:
            where += " AND status = ?"
            params.append(status)
        return self._dicts(f"SELECT * FROM examples WHERE {where} ORDER BY id", params)

    def paired_items_to_examples(self, tx, project_id: int, import_id: int, task_type: str) -> int:
        """Rows imported with input/output (or text/label) columns become accepted examples at once."""
        if task_type == "classification":
            condition, input_sql, output_sql = ("metadata->>'label' IS NOT NULL",
                                                "text", "NULL")
        else:
            condition, input_sql, output_sql = ("metadata->>'input' IS NOT NULL AND metadata->>'output' IS NOT NULL",
                                                "metadata->>'input'", "metadata->>'output'")
        (count,) = tx.execute(
            f"""INSERT INTO examples (project_id, item_id, input, output, label, status, origin, created_by)
                SELECT project_id, id, {input_sql}, {output_sql}, metadata->>'label', 'accepted', 'paired', 'import'
                FROM items WHERE import_id = ? AND {condition}""",
            [import_id],
        ).fetchone()
        return int(count)

    # --- dataset versions -------------------------------------------------------

    def create_version(self, project_id: int, name: str, content_hash: str, template: dict, split: dict,
                       counts: dict, rows: list[dict], user_name: str | None) -> int:
        """Freeze rows into an immutable version (nothing ever updates dataset_rows)."""
        if self.find_version(project_id, name) is not None:
            raise StoreError(f"This project already has a version named {name!r}: choose another name.")
        table = pa.table({
            "example_id": pa.array([r["example_id"] for r in rows], pa.int64()),
            "split": pa.array([r["split"] for r in rows], pa.string()),
            "input": pa.array([r["input"] for r in rows], pa.string()),
            "output": pa.array([r["output"] for r in rows], pa.string()),
            "label": pa.array([r["label"] for r in rows], pa.string()),
        })
        with self.transaction() as tx:
            (version_id,) = tx.execute(
                """INSERT INTO dataset_versions (project_id, name, content_hash, template, split, counts, created_by)
                   VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, name, content_hash, json.dumps(template), json.dumps(split), json.dumps(counts), user_name],
            ).fetchone()
            tx.register("frozen_rows", table)
            try:
                tx.execute("INSERT INTO dataset_rows SELECT ?, example_id, split, input, output, label FROM frozen_rows",
                           [version_id])
            finally:
                tx.unregister("frozen_rows")
            self.audit("freeze", name, {"project_id": project_id, "hash": content_hash, "counts": counts}, user_name, tx)
        return version_id

    def _version(self, row: dict) -> dict:
        for key in ("template", "split", "counts"):
            row[key] = json.loads(row[key])
        return row

    def list_versions(self, project_id: int) -> list[dict]:
        return [self._version(r) for r in
                self._dicts("SELECT * FROM dataset_versions WHERE project_id = ? ORDER BY id DESC", [project_id])]

    def find_version(self, project_id: int, name: str) -> dict | None:
        rows = self._dicts("SELECT * FROM dataset_versions WHERE project_id = ? AND name = ?", [project_id, name])
        return self._version(rows[0]) if rows else None

    def find_version_by_hash(self, project_id: int, content_hash: str) -> dict | None:
        rows = self._dicts("SELECT * FROM dataset_versions WHERE project_id = ? AND content_hash = ?",
                           [project_id, content_hash])
        return self._version(rows[0]) if rows else None

    def version_rows(self, version_id: int) -> list[dict]:
        return self._dicts(
            """SELECT example_id, split, input, output, label FROM dataset_rows WHERE version_id = ?
               ORDER BY CASE split WHEN 'train' THEN 0 WHEN 'validation' THEN 1 ELSE 2 END, example_id""",
            [version_id])

    # --- training runs ----------------------------------------------------------

    RUN_FIELDS = ("status", "pid", "step", "max_steps", "train_loss", "eval_loss", "started_at", "finished_at")

    def create_run(self, project_id: int, version_id: int | None, name: str, base_model: str, method: str,
                   config: dict, run_dir: str, user_name: str | None, status: str = "queued") -> int:
        with self.transaction() as tx:
            (run_id,) = tx.execute(
                """INSERT INTO runs (project_id, version_id, name, base_model, method, config, run_dir, created_by, status)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, version_id, name, base_model, method, json.dumps(config), run_dir, user_name, status],
            ).fetchone()
            self.audit("create_run", name, {"run_id": run_id, "method": method}, user_name, tx)
        return run_id

    def update_run(self, run_id: int, **changes) -> None:
        if not set(changes) <= set(self.RUN_FIELDS):
            raise StoreError(f"Runs have no field(s) {', '.join(set(changes) - set(self.RUN_FIELDS))}.")
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in changes)
            self.cursor().execute(f"UPDATE runs SET {assignments} WHERE id = ?", [*changes.values(), run_id])

    def _run(self, row: dict) -> dict:
        row["config"] = json.loads(row["config"])
        return row

    def get_run(self, run_id: int) -> dict | None:
        rows = self._dicts(
            """SELECT r.*, v.name AS version_name, p.name AS project_name FROM runs r
               JOIN projects p ON p.id = r.project_id LEFT JOIN dataset_versions v ON v.id = r.version_id
               WHERE r.id = ?""", [run_id])
        return self._run(rows[0]) if rows else None

    def list_runs(self, project_id: int | None = None, statuses: tuple[str, ...] | None = None) -> list[dict]:
        where, params = [], []
        if project_id is not None:
            where.append("r.project_id = ?")
            params.append(project_id)
        if statuses:
            where.append(f"r.status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return [self._run(r) for r in self._dicts(
            f"""SELECT r.*, v.name AS version_name, p.name AS project_name FROM runs r
                JOIN projects p ON p.id = r.project_id LEFT JOIN dataset_versions v ON v.id = r.version_id
                {clause} ORDER BY r.id DESC""", params)]


def open_store(path: Path | str) -> Store:
    """Open (creating and migrating if needed) the studio database at `path`."""
    return Store(path)


def write_app_marker(home: Path, url: str) -> Path:
    """Record which process serves this studio, so a second process can name it when the lock is taken."""
    marker = home / "app.json"
    marker.write_text(json.dumps({"pid": os.getpid(), "url": url}))
    return marker
