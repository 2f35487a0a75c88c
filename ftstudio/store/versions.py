"""Dataset versions: immutable, content-hashed snapshots of examples, with their split rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ftstudio.store.connection import StoreError


@dataclass
class Version:
    id: int
    project_id: int
    name: str
    content_hash: str
    template: dict
    split: dict
    counts: dict
    created_by: str | None
    created_at: Any
    kind: str = "examples"    # examples (input/output pairs) | preferences (prompt, chosen, rejected) | text

    @property
    def is_preferences(self) -> bool:
        return self.kind == "preferences"

    @property
    def is_text(self) -> bool:
        """Raw text for continued pre-training: each row's input is an item's text, its example_id the item's id."""
        return self.kind == "text"


@dataclass
class PreferenceRow:
    """One preference pair as frozen into a version."""

    position: int
    split: str
    input: str | None
    prompt: str          # text, or JSON-encoded messages when conversational
    chosen: str
    rejected: str
    conversational: bool
    source: str          # human | judge | file
    detail: dict | None


@dataclass
class ImportedPreference:
    """One preference pair imported from a file, waiting to be frozen into a preference version."""

    import_id: int
    position: int
    prompt: str          # text, or JSON-encoded messages when conversational
    chosen: str
    rejected: str
    conversational: bool
    source: str          # where in the import it came from: 'prefs.jsonl#3'


@dataclass
class VersionRow:
    """One example as frozen into a version."""

    example_id: int
    split: str
    input: str | None
    output: str | None
    label: str | None


_INSERT_EXAMPLES = "INSERT INTO dataset_rows SELECT ?, example_id, split, input, output, label FROM frozen_rows"
_INSERT_PREFERENCES = """INSERT INTO preference_rows SELECT ?, position, split, input, prompt, chosen, rejected,
                         conversational, source, detail FROM frozen_rows"""


def _example_table(rows: list[dict]) -> pa.Table:
    return pa.table({
        "example_id": pa.array([r["example_id"] for r in rows], pa.int64()),
        "split": pa.array([r["split"] for r in rows], pa.string()),
        "input": pa.array([r["input"] for r in rows], pa.string()),
        "output": pa.array([r["output"] for r in rows], pa.string()),
        "label": pa.array([r["label"] for r in rows], pa.string()),
    })


def _preference_table(rows: list[dict]) -> pa.Table:
    return pa.table({
        "position": pa.array(list(range(len(rows))), pa.int32()),
        "split": pa.array([r["split"] for r in rows], pa.string()),
        "input": pa.array([r.get("input") for r in rows], pa.string()),
        "prompt": pa.array([r["prompt"] for r in rows], pa.string()),
        "chosen": pa.array([r["chosen"] for r in rows], pa.string()),
        "rejected": pa.array([r["rejected"] for r in rows], pa.string()),
        "conversational": pa.array([bool(r.get("conversational")) for r in rows], pa.bool_()),
        "source": pa.array([r["source"] for r in rows], pa.string()),
        "detail": pa.array([json.dumps(r.get("detail") or {}) for r in rows], pa.string()),
    })


class VersionQueries:
    def create_version(self, project_id: int, name: str, content_hash: str, template: dict, split: dict,
                       counts: dict, rows: list[dict], user_name: str | None, kind: str = "examples") -> int:
        """Freeze rows into an immutable version: examples into dataset_rows, preference pairs into
        preference_rows (nothing ever updates either)."""
        if self.find_version(project_id, name) is not None:
            raise StoreError(f"This project already has a version named \u201c{name}\u201d: choose another name.")
        table, insert = (_preference_table(rows), _INSERT_PREFERENCES) if kind == "preferences" else \
            (_example_table(rows), _INSERT_EXAMPLES)
        with self.transaction() as tx:
            (version_id,) = tx.execute(
                """INSERT INTO dataset_versions (project_id, name, content_hash, template, split, counts, created_by,
                                                 kind)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, name, content_hash, json.dumps(template), json.dumps(split), json.dumps(counts), user_name,
                 kind],
            ).fetchone()
            tx.register("frozen_rows", table)
            try:
                tx.execute(insert, [version_id])
            finally:
                tx.unregister("frozen_rows")
            details = {"project_id": project_id, "hash": content_hash, "counts": counts}
            self.audit("freeze", name, details if kind == "examples" else {**details, "kind": kind}, user_name, tx)
        return version_id

    def add_imported_preferences(self, tx, project_id: int, import_id: int, pairs: list[dict]) -> int:
        """Preference pairs read from an import's files, kept until frozen into a preference version (inside the
        import's own transaction, so a failed import leaves none)."""
        if not pairs:
            return 0
        table = pa.table({
            "position": pa.array(list(range(len(pairs))), pa.int32()),
            "prompt": pa.array([p["prompt"] for p in pairs], pa.string()),
            "chosen": pa.array([p["chosen"] for p in pairs], pa.string()),
            "rejected": pa.array([p["rejected"] for p in pairs], pa.string()),
            "conversational": pa.array([bool(p.get("conversational")) for p in pairs], pa.bool_()),
            "source": pa.array([p["source"] for p in pairs], pa.string()),
        })
        tx.register("imported_pairs", table)
        try:
            tx.execute("""INSERT INTO imported_preferences (project_id, import_id, position, prompt, chosen, rejected,
                                                            conversational, source)
                          SELECT ?, ?, position, prompt, chosen, rejected, conversational, source FROM imported_pairs""",
                       [project_id, import_id])
        finally:
            tx.unregister("imported_pairs")
        return len(pairs)

    def imported_preferences(self, project_id: int) -> list[ImportedPreference]:
        """The project's imported preference pairs, in import order."""
        return self._rows(ImportedPreference, """SELECT import_id, position, prompt, chosen, rejected, conversational,
                                                        source FROM imported_preferences WHERE project_id = ?
                                                 ORDER BY import_id, position""", [project_id])

    def preference_rows(self, version_id: int, split: str | None = None) -> list[PreferenceRow]:
        where, params = "version_id = ?", [version_id]
        if split:
            where += " AND split = ?"
            params.append(split)
        return self._rows(PreferenceRow, f"SELECT * FROM preference_rows WHERE {where} ORDER BY position", params,
                          json_columns=("detail",))

    def _versions(self, where: str, params: list) -> list[Version]:
        return self._rows(Version, f"SELECT * FROM dataset_versions WHERE {where} ORDER BY id DESC", params,
                          json_columns=("template", "split", "counts"))

    def list_versions(self, project_id: int) -> list[Version]:
        return self._versions("project_id = ?", [project_id])

    def get_version(self, version_id: int) -> Version | None:
        found = self._versions("id = ?", [version_id])
        return found[0] if found else None

    def find_version(self, project_id: int, name: str) -> Version | None:
        found = self._versions("project_id = ? AND name = ?", [project_id, name])
        return found[0] if found else None

    def find_version_by_hash(self, project_id: int, content_hash: str) -> Version | None:
        found = self._versions("project_id = ? AND content_hash = ?", [project_id, content_hash])
        return found[0] if found else None

    def version_rows(self, version_id: int, split: str | None = None) -> list[VersionRow]:
        where, params = "version_id = ?", [version_id]
        if split:
            where += " AND split = ?"
            params.append(split)
        return self._rows(
            VersionRow,
            f"""SELECT example_id, split, input, output, label FROM dataset_rows WHERE {where}
               ORDER BY CASE split WHEN 'train' THEN 0 WHEN 'validation' THEN 1 ELSE 2 END, example_id""",
            params)
