"""Labeling: leases on items, examples (the annotators' decisions), their history, undo, and counts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from ftstudio.store.connection import StoreError


@dataclass
class Example:
    id: int
    project_id: int
    item_id: int | None
    input: str | None
    output: str | None
    label: str | None
    status: str
    origin: str
    draft: dict | None
    created_by: str | None
    created_at: Any
    updated_at: Any


@dataclass
class HistoryEntry:
    id: int
    example_id: int
    previous: dict
    changed_by: str | None
    changed_at: Any


class LabelingQueries:
    def lease_next_item(self, project_id: int, user_name: str, lease_seconds: int, overlap: int,
                        now: datetime | None = None) -> int | None:
        """The item this annotator should see next, leased to them; None when their queue is empty.

        An item is open while fewer than `overlap` people have accepted it and it is
        not leased to someone else; an annotator never gets an item they already
        handled. Their own unexpired lease comes back first, so a reload resumes.
        """
        now = now or datetime.now()
        with self._labeling_lock, self.transaction() as tx:
            self.forget_expired(tx, "leases", now)
            row = tx.execute(
                """SELECT l.item_id FROM leases l JOIN items i ON i.id = l.item_id
                   WHERE i.project_id = ? AND l.user_name = ? AND l.expires_at >= ? ORDER BY l.item_id LIMIT 1""",
                [project_id, user_name, now],
            ).fetchone()
            if row is None:
                # Two anti-joins (what this person decided; what is full: accepted plus live leases): DuckDB ran
                # per-item subqueries at twice the CPU, and a join of per-item counts at a third more than this.
                row = tx.execute(
                    """
                    SELECT i.id FROM items i WHERE i.project_id = ?
                      AND i.id NOT IN (SELECT item_id FROM examples
                                       WHERE project_id = ? AND created_by = ? AND item_id IS NOT NULL)
                      AND i.id NOT IN (SELECT item_id FROM (
                              SELECT item_id FROM examples
                              WHERE project_id = ? AND status = 'accepted' AND item_id IS NOT NULL
                              UNION ALL SELECT item_id FROM leases WHERE expires_at >= ?)
                          GROUP BY item_id HAVING count(*) >= ?)
                    ORDER BY i.id LIMIT 1
                    """,
                    [project_id, project_id, user_name, project_id, now, overlap],
                ).fetchone()
                if row is None:
                    return None
            tx.execute("DELETE FROM leases WHERE item_id = ? AND user_name = ?", [row[0], user_name])
            tx.execute("INSERT INTO leases VALUES (?, ?, ?)", [row[0], user_name, now + timedelta(seconds=lease_seconds)])
            return row[0]

    def release_lease(self, item_id: int, user_name: str) -> None:
        with self._labeling_lock:
            self.cursor().execute("DELETE FROM leases WHERE item_id = ? AND user_name = ?", [item_id, user_name])

    def leases_held(self, project_id: int) -> dict[str, int]:
        """Unexpired leases per annotator in a project."""
        rows = self.cursor().execute(
            """SELECT l.user_name, count(*) FROM leases l JOIN items i ON i.id = l.item_id
               WHERE i.project_id = ? AND l.expires_at >= ? GROUP BY l.user_name""",
            [project_id, datetime.now()]).fetchall()
        return dict(rows)

    def save_example(self, project_id: int, item_id: int | None, user_name: str, status: str,
                     input: str | None = None, output: str | None = None, label: str | None = None,
                     draft: dict | None = None, origin: str = "labeled") -> int:
        """Record an annotator's decision on an item (accepted, skipped or flagged) and release its lease."""
        # Under the write lock, like taking a lease: both delete lease rows, and two transactions deleting the
        # same row would conflict (DuckDB's optimistic concurrency) now that many people's calls run at once.
        with self._labeling_lock, self.transaction() as tx:
            (example_id,) = tx.execute(
                """INSERT INTO examples (project_id, item_id, input, output, label, status, origin, draft, created_by)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, item_id, input, output, label, status, origin, json.dumps(draft) if draft else None,
                 user_name],
            ).fetchone()
            if item_id is not None:
                tx.execute("DELETE FROM leases WHERE item_id = ? AND user_name = ?", [item_id, user_name])
        return example_id

    def _examples(self, where: str, params: list) -> list[Example]:
        return self._rows(Example, f"SELECT * FROM examples WHERE {where} ORDER BY id", params, json_columns=("draft",))

    def get_example(self, example_id: int) -> Example | None:
        found = self._examples("id = ?", [example_id])
        return found[0] if found else None

    def update_example(self, example_id: int, user_name: str, **changes) -> Example:
        """Edit an example; what it was before goes to example_history."""
        allowed = {"input", "output", "label", "status"}
        if not set(changes) <= allowed:
            raise StoreError(f"Only {', '.join(sorted(allowed))} can be edited.")
        before = self.get_example(example_id)
        if before is None:
            raise StoreError(f"No example with id {example_id}.")
        with self.transaction() as tx:
            tx.execute("INSERT INTO example_history (example_id, previous, changed_by) VALUES (?, ?, ?)",
                       [example_id, json.dumps(asdict(before), default=str), user_name])
            assignments = ", ".join(f"{name} = ?" for name in changes)
            tx.execute(f"UPDATE examples SET {assignments}, updated_at = current_timestamp WHERE id = ?",
                       [*changes.values(), example_id])
        return self.get_example(example_id)

    def example_history(self, example_id: int) -> list[HistoryEntry]:
        return self._rows(HistoryEntry, "SELECT * FROM example_history WHERE example_id = ? ORDER BY id", [example_id],
                          json_columns=("previous",))

    def undo_last_example(self, project_id: int, user_name: str, lease_seconds: int) -> Example | None:
        """Take back this annotator's latest decision (kept in history), lease that item to them again, and
        return the decision as it was, so what they had typed comes back with it."""
        found = self._examples("project_id = ? AND created_by = ? AND origin = 'labeled' AND id = "
                               "(SELECT max(id) FROM examples WHERE project_id = ? AND created_by = ? "
                               "AND origin = 'labeled')", [project_id, user_name, project_id, user_name])
        if not found:
            return None
        last = found[0]
        with self._labeling_lock, self.transaction() as tx:
            tx.execute("INSERT INTO example_history (example_id, previous, changed_by) VALUES (?, ?, ?)",
                       [last.id, json.dumps({**asdict(last), "undone": True}, default=str), user_name])
            tx.execute("DELETE FROM examples WHERE id = ?", [last.id])
            tx.execute("DELETE FROM leases WHERE user_name = ? AND item_id IN (SELECT id FROM items WHERE project_id = ?)",
                       [user_name, project_id])
            tx.execute("INSERT INTO leases VALUES (?, ?, ?)",
                       [last.item_id, user_name, datetime.now() + timedelta(seconds=lease_seconds)])
        return last

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

    def list_examples(self, project_id: int, status: str | None = "accepted") -> list[Example]:
        where, params = "project_id = ?", [project_id]
        if status:
            where += " AND status = ?"
            params.append(status)
        return self._examples(where, params)

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
