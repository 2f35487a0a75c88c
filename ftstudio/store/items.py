"""Imports and items: set-based bulk insert with duplicate checks, paging and search, delete."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ftstudio.store.connection import StoreError

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


# Counts that post exports keep in metadata: X likes and reposts, WordPress comments, Substack opens.
ENGAGEMENT_FIELDS = ("likes", "reposts", "comments", "opens")


def _engagement(name: str) -> str:
    return f"TRY_CAST(json_extract_string(metadata, '$.{name}') AS BIGINT)"


ITEM_SORTS = {
    "imported": "id DESC",
    "newest": "written_at DESC NULLS LAST, id DESC",
    "oldest": "written_at ASC NULLS LAST, id DESC",
    **{name: f"{_engagement(name)} DESC NULLS LAST, id DESC" for name in ENGAGEMENT_FIELDS},
}
"""How an item list can be sorted: by import (newest first), by date written, or by an engagement count."""


def _memory_setting(value: str) -> str:
    """A memory size such as '256MB' or '1.5 GiB', checked, for a SET statement (which takes no parameter)."""
    text = str(value).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B", text, re.IGNORECASE):
        raise StoreError(f"Not a memory size: {value!r}; write it like 256MB or 2GB.")
    return text


@dataclass
class Item:
    id: int
    project_id: int
    import_id: int
    content_hash: str
    kind: str
    source: str
    title: str | None
    author: str | None
    written_at: Any
    text: str
    metadata: dict
    pii_masked: bool
    imported_at: Any


@dataclass
class ItemSummary:
    """A row of the item table: the text cut to a preview."""

    id: int
    kind: str
    title: str | None
    author: str | None
    written_at: Any
    preview: str
    chars: int
    source: str


@dataclass
class ImportRecord:
    id: int
    project_id: int
    created_by: str | None
    created_at: Any
    options: dict
    sources: list
    imported: int
    duplicates: int
    errors: list


@dataclass
class ItemPage:
    rows: list[ItemSummary]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class ItemQueries:
    def begin_import(self, tx, project_id: int, sources: list[str], options: dict, user_name: str | None,
                     import_id: int | None = None) -> int:
        """Record an import; `import_id` is one from reserve_import_id() when its items were staged first."""
        if import_id is None:
            (import_id,) = tx.execute("SELECT nextval('imports_id_seq')").fetchone()
        tx.execute(
            "INSERT INTO imports (id, project_id, created_by, options, sources) VALUES (?, ?, ?, ?, ?)",
            [import_id, project_id, user_name, json.dumps(options), json.dumps(sources)],
        )
        return import_id

    # Staging: a large import commits its items batch by batch, so that neither DuckDB's transaction
    # nor its buffer pool grows with the file, under project id -import_id, which no project has: no
    # query sees them. publish_import moves them into the project in one transaction at the end; a
    # failed import deletes them, and a killed one leaves them for discard_unfinished_imports at the
    # next start. So an import still appears whole or not at all.

    def reserve_import_id(self) -> int:
        return int(self.cursor().execute("SELECT nextval('imports_id_seq')").fetchone()[0])

    def stage_items(self, project_id: int, import_id: int, batch: pa.Table) -> int:
        """Commit the rows of `batch` that `project_id` does not hold yet, out of sight; return how many."""
        with self._write_lock, self.transaction() as tx:
            return self.insert_new_items(tx, -import_id, import_id, batch, dedup_project_id=project_id)

    def publish_import(self, tx, project_id: int, import_id: int) -> int:
        """Move an import's staged items into its project (inside the caller's transaction); return how many.

        Rows whose content arrived in the project meanwhile (another import of the same files) are dropped.
        """
        (published,) = tx.execute(
            """UPDATE items SET project_id = ? WHERE project_id = ? AND NOT EXISTS (
                   SELECT 1 FROM items i WHERE i.project_id = ? AND i.content_hash = items.content_hash)""",
            [project_id, -import_id, project_id],
        ).fetchone()
        tx.execute("DELETE FROM items WHERE project_id = ?", [-import_id])
        return int(published)

    def discard_staged_items(self, import_id: int) -> None:
        with self._write_lock, self.transaction() as tx:
            tx.execute("DELETE FROM items WHERE project_id = ?", [-import_id])

    def discard_unfinished_imports(self) -> int:
        """Delete what killed imports staged; called when the store opens, before any import can run."""
        with self._write_lock, self.transaction() as tx:
            (count,) = tx.execute("DELETE FROM items WHERE project_id < 0").fetchone()
        return int(count)

    @contextmanager
    def bounded_memory(self, limit: str | None):
        """DuckDB's memory limit lowered for the duration (an import), so that its buffer pool, which
        otherwise keeps every block written up to 80% of RAM, evicts to disk instead."""
        if not limit or str(self.path) == ":memory:":  # an in-memory database has no file to evict to
            yield
            return
        cursor = self.cursor()
        cursor.execute(f"SET memory_limit = '{_memory_setting(limit)}'")
        try:
            yield
        finally:
            # Back to DuckDB's default (the store sets no other limit): current_setting() reads back a
            # rounded figure ('18.7 GiB'), so setting that again would not restore the exact value.
            cursor.execute("RESET memory_limit")

    def finish_import(self, tx, import_id: int, imported: int, duplicates: int, errors: list[dict]) -> None:
        tx.execute(
            "UPDATE imports SET imported = ?, duplicates = ?, errors = ? WHERE id = ?",
            [imported, duplicates, json.dumps(errors), import_id],
        )

    def insert_new_items(self, tx, project_id: int, import_id: int, batch: pa.Table,
                         dedup_project_id: int | None = None) -> int:
        """Insert the rows of `batch` whose content hash the project (or `dedup_project_id`) does not hold
        yet; return how many.

        One set-based INSERT over an Arrow table: DuckDB reads it without copying,
        which is what makes bulk import fast (one INSERT per row is the naive baseline).
        """
        dedup_project_id = project_id if dedup_project_id is None else dedup_project_id
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
                [project_id, import_id, dedup_project_id],
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

    def list_imports(self, project_id: int) -> list[ImportRecord]:
        return self._rows(ImportRecord, "SELECT * FROM imports WHERE project_id = ? ORDER BY id DESC", [project_id],
                          json_columns=("options", "sources", "errors"))

    def count_items(self, project_id: int) -> int:
        return self.cursor().execute("SELECT count(*) FROM items WHERE project_id = ?", [project_id]).fetchone()[0]

    def list_items(self, project_id: int, search: str = "", page: int = 1, page_size: int = 50,
                   kind: str | None = None, sort: str = "imported", at_least: dict[str, int] | None = None,
                   since: Any = None, until: Any = None) -> ItemPage:
        """One page of a project's items, filtered by a case-insensitive search, sorted by `sort` (one of
        ITEM_SORTS: newest import first by default, or by date written, or by an engagement count).

        `at_least` keeps items whose engagement counts reach the given numbers ({'likes': 100});
        `since`/`until` bound the date written. A page below 1 or past the end shows the nearest page that exists.
        """
        if sort not in ITEM_SORTS:
            raise StoreError(f"Unknown sort {sort!r}: choose one of {', '.join(ITEM_SORTS)}.")
        unknown = set(at_least or {}) - set(ENGAGEMENT_FIELDS)
        if unknown:
            raise StoreError(f"Unknown engagement count {', '.join(sorted(unknown))}: choose from {', '.join(ENGAGEMENT_FIELDS)}.")
        where = ["project_id = ?"]
        params: list[Any] = [project_id]
        for name, minimum in (at_least or {}).items():
            where.append(f"{_engagement(name)} >= ?")  # name is one of ENGAGEMENT_FIELDS, never user text
            params.append(int(minimum))
        if since is not None:
            where.append("written_at >= ?")
            params.append(since)
        if until is not None:
            where.append("written_at <= ?")
            params.append(until)
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
        page = max(1, min(int(page or 1), max(1, -(-total // page_size))))
        rows = self._rows(
            ItemSummary,
            f"""SELECT id, kind, title, author, written_at, left(text, 300) AS preview, length(text) AS chars, source
                FROM items WHERE {clause} ORDER BY {ITEM_SORTS[sort]} LIMIT ? OFFSET ?""",
            params + [page_size, (page - 1) * page_size],
        )
        return ItemPage(rows=rows, total=total, page=page, page_size=page_size)

    def item_texts(self, project_id: int) -> list[tuple[int, str]]:
        """Every item's id and text, oldest first (what a text version freezes)."""
        return self.cursor().execute("SELECT id, text FROM items WHERE project_id = ? ORDER BY id",
                                     [project_id]).fetchall()

    def get_item(self, item_id: int) -> Item | None:
        def metadata(row):
            row["metadata"] = row["metadata"] or {}
            return row

        return self._one(Item, "SELECT * FROM items WHERE id = ?", [item_id], json_columns=("metadata",),
                         convert=metadata)

    def delete_item(self, item_id: int, user_name: str | None = None) -> None:
        """Delete an item with its examples, history and leases (frozen versions keep their copies)."""
        item = self.get_item(item_id)
        if item is None:
            raise StoreError(f"No item with id {item_id}.")
        with self.everything_locked(), self.transaction() as tx:
            tx.execute("DELETE FROM example_history WHERE example_id IN (SELECT id FROM examples WHERE item_id = ?)",
                       [item_id])
            tx.execute("DELETE FROM examples WHERE item_id = ?", [item_id])
            tx.execute("DELETE FROM leases WHERE item_id = ?", [item_id])
            tx.execute("DELETE FROM items WHERE id = ?", [item_id])
            self.audit("delete_item", item.title or f"item {item_id}",
                       {"item_id": item_id, "project_id": item.project_id}, user_name, tx)

    def rename_item(self, item_id: int, title: str, user_name: str | None = None) -> Item:
        item = self.get_item(item_id)
        if item is None:
            raise StoreError(f"No item with id {item_id}.")
        with self.transaction() as tx:
            tx.execute("UPDATE items SET title = ? WHERE id = ?", [title.strip() or None, item_id])
            self.audit("rename_item", title, {"item_id": item_id, "from": item.title}, user_name, tx)
        return self.get_item(item_id)
