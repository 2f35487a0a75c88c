"""Registered systems (models behind an OpenAI-compatible endpoint, with their prices) and the drafts a teacher
system wrote for a project's items. No API key is ever stored here: keys come from the environment or the secret
store (see ftstudio.remote)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ftstudio.store.connection import StoreError

# A system's name is typed in lists ("base,run-3,fewshot,gpt"): no commas, spaces or '+' (NAME+fewshot).
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")
RESERVED_NAMES = ("base", "reference", "fewshot")


@dataclass
class RegisteredSystem:
    name: str
    url: str
    model: str
    price_input_usd_per_m: float | None
    price_output_usd_per_m: float | None
    created: Any = None


@dataclass
class TeacherDraft:
    cache_key: str
    project_id: int
    item_id: int
    system: str
    input: str
    output: str
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    accepted_example: int | None
    created: Any = None


def check_system_name(name: str) -> str:
    """The name as stored, or a StoreError saying how to spell one."""
    name = (name or "").strip()
    if not _NAME.match(name) or name.lower() in RESERVED_NAMES or name.lower().startswith(("run-", "fewshot")):
        raise StoreError(f"{name!r} cannot name a system: use letters, digits, '-', '_' or '.', starting with a "
                         "letter, and not base, reference, fewshot or run-N (those are built in).")
    return name


class SystemQueries:
    # --- the registry ------------------------------------------------------------------

    def add_system(self, name: str, url: str, model: str, price_input: float | None = None,
                   price_output: float | None = None, user_name: str | None = None) -> RegisteredSystem:
        """Register (or update) a system by name."""
        name = check_system_name(name)
        for price in (price_input, price_output):
            if price is not None and price < 0:
                raise StoreError("A price is in USD per million tokens, 0 or more.")
        with self._write_lock, self.transaction() as tx:
            tx.execute("""INSERT INTO systems (name, url, model, price_input_usd_per_m, price_output_usd_per_m)
                          VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET url = excluded.url,
                          model = excluded.model, price_input_usd_per_m = excluded.price_input_usd_per_m,
                          price_output_usd_per_m = excluded.price_output_usd_per_m""",
                       [name, url, model, price_input, price_output])
            self.audit("add_system", name, {"url": url, "model": model}, user_name, tx)
        return self.get_system(name)

    def get_system(self, name: str) -> RegisteredSystem | None:
        return self._one(RegisteredSystem, "SELECT * FROM systems WHERE name = ?", [name])

    def list_systems(self) -> list[RegisteredSystem]:
        return self._rows(RegisteredSystem, "SELECT * FROM systems ORDER BY name")

    def remove_system(self, name: str, user_name: str | None = None) -> bool:
        """Forget a system (its stored answers stay, for the reviews that hold them)."""
        with self._write_lock, self.transaction() as tx:
            found = tx.execute("DELETE FROM systems WHERE name = ? RETURNING name", [name]).fetchone()
            if found:
                self.audit("remove_system", name, None, user_name, tx)
        return found is not None

    # --- a teacher's drafts ---------------------------------------------------------------

    def add_teacher_draft(self, row: dict) -> None:
        columns = ("cache_key", "project_id", "item_id", "system", "input", "output", "latency_ms", "input_tokens",
                   "output_tokens", "cost_usd")
        with self._write_lock, self.transaction() as tx:
            tx.execute(f"INSERT INTO teacher_drafts ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                       "ON CONFLICT (cache_key) DO NOTHING", [row.get(c) for c in columns])

    def teacher_drafts_by_keys(self, cache_keys: list[str]) -> dict[str, TeacherDraft]:
        if not cache_keys:
            return {}
        rows = self._rows(TeacherDraft, f"SELECT * FROM teacher_drafts WHERE cache_key IN "
                                        f"({', '.join('?' * len(cache_keys))})", cache_keys)
        return {row.cache_key: row for row in rows}

    def teacher_draft_for_item(self, item_id: int) -> TeacherDraft | None:
        """The newest teacher draft of an item, for the Label tab to start from."""
        return self._one(TeacherDraft, "SELECT * FROM teacher_drafts WHERE item_id = ? ORDER BY created DESC LIMIT 1",
                         [item_id])

    def mark_teacher_draft_accepted(self, cache_key: str, example_id: int) -> None:
        with self._write_lock, self.transaction() as tx:
            tx.execute("UPDATE teacher_drafts SET accepted_example = ? WHERE cache_key = ?", [example_id, cache_key])

    def items_to_distill(self, project_id: int) -> list:
        """The project's items no example was accepted for yet (the caller keeps those with an input and no
        output)."""
        rows = self.cursor().execute(
            """SELECT i.id FROM items i WHERE i.project_id = ? AND NOT EXISTS (
                   SELECT 1 FROM examples e WHERE e.item_id = i.id AND e.status = 'accepted') ORDER BY i.id""",
            [project_id]).fetchall()
        return [self.get_item(row[0]) for row in rows]
