"""The schema, as append-only named migrations: one SQL file per migration in this folder, applied in name order.

Never edit or rename a file that has shipped; add a new one (NNNN_what.sql, the next number), and its database
fixture (tests/fixtures/databases/make_fixture.py). Why files: each migration reads as the SQL it is, and a new one is
a new file, not a hunk in a list that every change touches."""

from __future__ import annotations

from pathlib import Path


def _load() -> list[tuple[str, str]]:
    files = sorted(Path(__file__).parent.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [(path.stem, path.read_text(encoding="utf-8")) for path in files]


MIGRATIONS: list[tuple[str, str]] = _load()
