"""The connection, migrations, audit trail and row helpers every area of the store builds on.

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
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import duckdb

from ftstudio.store.migrations import MIGRATIONS

Row = TypeVar("Row")


class StoreError(Exception):
    """A problem with the studio database that the user can act on."""


class StoreBusyError(StoreError):
    """Another process (normally the running app) holds the database for writing."""


@dataclass
class AuditEntry:
    id: int
    happened_at: Any
    user_name: str | None
    action: str
    target: str | None
    details: dict


def loads(value: str | None, default=None):
    """A JSON column's value, or `default` when it is NULL."""
    return json.loads(value) if value else default


# Per database file: how many times its answers, runs or reviews have changed in this process (see
# ReviewQueries.queue_fingerprint). Keyed by path so that every Store open on one file counts the same changes.
_QUEUE_CHANGES: dict[str, int] = {}
_QUEUE_CHANGES_LOCK = threading.Lock()


def queue_changed(path: Path) -> None:
    with _QUEUE_CHANGES_LOCK:
        key = str(path)
        _QUEUE_CHANGES[key] = _QUEUE_CHANGES.get(key, 0) + 1


def queue_changes(path: Path) -> int:
    with _QUEUE_CHANGES_LOCK:
        return _QUEUE_CHANGES.get(str(path), 0)


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


def _newer_schema_message(path: Path, unknown: set[str], known: str) -> str:
    """Why a database with migrations this code does not know is left alone, and what to do."""
    return (f"The studio database {path} comes from a newer ftstudio: its schema is at {max(unknown)}, and this "
            f"ftstudio knows the schema up to {known}. It was left unchanged. Upgrade ftstudio (git pull, then "
            "make install) to open it, or point FTSTUDIO_HOME at another folder.")


class Connection:
    """Opening, migrating, transactions, and reading rows into dataclasses."""

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
        # Serialises read-then-write sequences between this process's threads; DuckDB's optimistic concurrency
        # would let two of them take the same item, or two deletes of one row conflict. The labeling queue
        # (leases, decisions) and the review queue (holds, votes) never touch each other's rows, so each has a
        # lock of its own and a team's labelers do not wait on its reviewers; the rest share the write lock, and
        # what deletes across all of them takes every lock (everything_locked), always in this order.
        self._write_lock = threading.RLock()
        self._labeling_lock = threading.RLock()
        self._review_lock = threading.RLock()
        self._migrate()
        discard = getattr(self, "discard_unfinished_imports", None)  # from ItemQueries, in a full Store
        if discard is not None:
            discard()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB cursors are per thread; the connection is shared)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._connection.cursor()
            self._local.cursor = cursor
        return cursor

    # Expired leases and review holds are ignored by every query that reads them (`expires_at >= now`) and
    # deleted at most once a minute: the DELETE scanned its whole table on every call, inside the lock that every
    # labeler or reviewer waits on.
    FORGET_EXPIRED_EVERY = timedelta(minutes=1)

    def forget_expired(self, tx, table: str, now: datetime) -> None:
        """Delete `table`'s expired rows (leases, review_assignments) if it was not done in the last minute."""
        forgotten = self.__dict__.setdefault("_expired_forgotten_at", {})
        last = forgotten.get(table)
        if last is None or now - last >= self.FORGET_EXPIRED_EVERY or now < last:
            tx.execute(f"DELETE FROM {table} WHERE expires_at < ?", [now])
            forgotten[table] = now

    @contextmanager
    def everything_locked(self) -> Iterator[None]:
        """The write lock and both queues' locks (in the one order every caller takes them)."""
        with self._write_lock, self._labeling_lock, self._review_lock:
            yield

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

    def copy_to(self, target: Path) -> None:
        """A consistent copy of the whole database in a new file, taken while the app keeps running: DuckDB's
        COPY FROM DATABASE reads one transaction's snapshot, so a write landing meanwhile is either in or out."""
        target = Path(target)
        if target.exists():
            raise StoreError(f"{target} exists already: a copy is only written to a new file.")
        cursor = self.cursor()
        (source,) = cursor.execute("SELECT current_database()").fetchone()
        cursor.execute("ATTACH ? AS studio_copy", [str(target)])
        try:
            cursor.execute(f'COPY FROM DATABASE "{source}" TO studio_copy')
        finally:
            cursor.execute("DETACH studio_copy")

    def _migrate(self) -> None:
        cursor = self.cursor()
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, "
            "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        applied = {row[0] for row in cursor.execute("SELECT name FROM schema_migrations").fetchall()}
        unknown = applied - {name for name, _ in MIGRATIONS}
        if unknown:  # written by a newer release: migrating it (or anything else) could lose what it added
            self._connection.close()
            raise StoreError(_newer_schema_message(self.path, unknown, MIGRATIONS[-1][0]))
        for name, sql in MIGRATIONS:
            if name in applied:
                continue
            with self.transaction() as tx:
                tx.execute(sql)
                tx.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self.cursor().execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]

    def _dicts(self, sql: str, params: list | tuple = (), cursor=None) -> list[dict]:
        result = (cursor or self.cursor()).execute(sql, params)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row)) for row in result.fetchall()]

    def _rows(self, cls: type[Row], sql: str, params: list | tuple = (), json_columns: tuple[str, ...] = (),
              convert: Callable[[dict], dict] | None = None, cursor=None) -> list[Row]:
        """Rows as instances of the dataclass `cls` (columns it has no field for are left out)."""
        names = {f.name for f in fields(cls)}
        rows = []
        for row in self._dicts(sql, params, cursor):
            for column in json_columns:
                row[column] = loads(row[column])
            if convert:
                row = convert(row)
            rows.append(cls(**{k: v for k, v in row.items() if k in names}))
        return rows

    def _one(self, cls: type[Row], sql: str, params: list | tuple = (), **options) -> Row | None:
        rows = self._rows(cls, sql, params, **options)
        return rows[0] if rows else None

    # --- audit: every change, with who and when ---------------------------------------

    def audit(self, action: str, target: str | None = None, details: dict | None = None,
              user_name: str | None = None, cursor=None) -> None:
        (cursor or self.cursor()).execute(
            "INSERT INTO audit (user_name, action, target, details) VALUES (?, ?, ?, ?)",
            [user_name, action, target, json.dumps(details or {}, default=str)],
        )

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        return self._rows(AuditEntry, "SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit], json_columns=("details",))


def write_app_marker(home: Path, url: str) -> Path:
    """Record which process serves this studio, so a second process can name it when the lock is taken."""
    marker = home / "app.json"
    marker.write_text(json.dumps({"pid": os.getpid(), "url": url}))
    return marker
