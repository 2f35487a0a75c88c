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
    kind: str = "examples"    # examples (input/output pairs) | preferences (prompt, chosen, rejected)

    @property
    def is_preferences(self) -> bool:
        return self.kind == "preferences"


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
class VersionRow:
    """One example as frozen into a version."""

    example_id: int
    split: str
    input: str | None
    output: str | None
    label: str | None


class VersionQueries:
    def create_version(self, project_id: int, name: str, content_hash: str, template: dict, split: dict,
                       counts: dict, rows: list[dict], user_name: str | None) -> int:
        """Freeze rows into an immutable version (nothing ever updates dataset_rows)."""
        if self.find_version(project_id, name) is not None:
            raise StoreError(f"This project already has a version named \u201c{name}\u201d: choose another name.")
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

    def create_preference_version(self, project_id: int, name: str, content_hash: str, template: dict, split: dict,
                                  counts: dict, rows: list[dict], user_name: str | None) -> int:
        """Freeze preference pairs into an immutable version (nothing ever updates preference_rows)."""
        if self.find_version(project_id, name) is not None:
            raise StoreError(f"This project already has a version named \u201c{name}\u201d: choose another name.")
        table = pa.table({
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
        with self.transaction() as tx:
            (version_id,) = tx.execute(
                """INSERT INTO dataset_versions (project_id, name, content_hash, template, split, counts, created_by,
                                                 kind)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 'preferences') RETURNING id""",
                [project_id, name, content_hash, json.dumps(template), json.dumps(split), json.dumps(counts), user_name],
            ).fetchone()
            tx.register("frozen_pairs", table)
            try:
                tx.execute("""INSERT INTO preference_rows SELECT ?, position, split, input, prompt, chosen, rejected,
                              conversational, source, detail FROM frozen_pairs""", [version_id])
            finally:
                tx.unregister("frozen_pairs")
            self.audit("freeze", name, {"project_id": project_id, "hash": content_hash, "counts": counts,
                                        "kind": "preferences"}, user_name, tx)
        return version_id

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
