"""Corrections: a reviewer's right answer after a blind vote, saved as an accepted example and linked to its pair."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ftstudio.store.review import Rating


@dataclass
class Correction:
    id: int
    project_id: int
    example_id: int
    review_id: int
    pair_id: int
    rating_id: int
    generation_id: int | None
    systems: list[str]
    corrected_by: str | None
    created_at: Any


@dataclass
class NewItem:
    """An item for a correction whose input came from no item (a typed prompt)."""

    content_hash: str
    text: str
    title: str | None = None


class CorrectionQueries:
    def get_rating(self, rating_id: int) -> Rating | None:
        return self._one(Rating, "SELECT * FROM ratings WHERE id = ?", [rating_id])

    def find_item_by_hash(self, project_id: int, content_hash: str) -> int | None:
        row = self.cursor().execute("SELECT id FROM items WHERE project_id = ? AND content_hash = ? LIMIT 1",
                                    [project_id, content_hash]).fetchone()
        return row[0] if row else None

    def correction_for_rating(self, rating_id: int) -> Correction | None:
        return self._one(Correction, "SELECT * FROM corrections WHERE rating_id = ? ORDER BY id DESC LIMIT 1",
                         [rating_id], json_columns=("systems",))

    def save_correction(self, project_id: int, item_id: int | None, new_item: NewItem | None, user_name: str,
                        input: str, output: str, label: str | None, draft: dict | None, rating: Rating,
                        generation_id: int | None, systems: list[str]) -> Correction:
        """In one transaction: the item (created when `new_item` is given), the accepted example (origin
        'correction') and the link to the rating it corrects."""
        with self._write_lock, self.transaction() as tx:
            if new_item is not None:
                import_id = self.begin_import(tx, project_id, ["review correction"], {"rating_id": rating.id},
                                              user_name)
                (item_id,) = tx.execute(
                    """INSERT INTO items (project_id, import_id, content_hash, kind, source, title, text, metadata)
                       VALUES (?, ?, ?, 'row', 'review correction', ?, ?, ?) RETURNING id""",
                    [project_id, import_id, new_item.content_hash, new_item.title, new_item.text,
                     json.dumps({"from_review": rating.review_id})]).fetchone()
                tx.execute("UPDATE imports SET imported = 1 WHERE id = ?", [import_id])
            (example_id,) = tx.execute(
                """INSERT INTO examples (project_id, item_id, input, output, label, status, origin, draft, created_by)
                   VALUES (?, ?, ?, ?, ?, 'accepted', 'correction', ?, ?) RETURNING id""",
                [project_id, item_id, input, output, label, json.dumps(draft) if draft else None, user_name]).fetchone()
            (correction_id,) = tx.execute(
                """INSERT INTO corrections (project_id, example_id, review_id, pair_id, rating_id, generation_id,
                                            systems, corrected_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, example_id, rating.review_id, rating.pair_id, rating.id, generation_id,
                 json.dumps(systems), user_name]).fetchone()
            self.audit("correct", f"review {rating.review_id}",
                       {"rating_id": rating.id, "example_id": example_id, "systems": systems}, user_name, tx)
        return self._one(Correction, "SELECT * FROM corrections WHERE id = ?", [correction_id],
                         json_columns=("systems",))

    def list_corrections(self, project_id: int, review_id: int | None = None) -> list[Correction]:
        where, params = "project_id = ?", [project_id]
        if review_id is not None:
            where += " AND review_id = ?"
            params.append(review_id)
        return self._rows(Correction, f"SELECT * FROM corrections WHERE {where} ORDER BY id", params,
                          json_columns=("systems",))
