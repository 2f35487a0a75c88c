"""Projects: create, find (names are unique regardless of case), change settings, rename, delete."""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from ftstudio.store.connection import StoreError, queue_changed

TASK_TYPES = ("generation", "classification", "structured")

# What deleting a project removes, child tables first (DuckDB has no ON DELETE CASCADE).
_PROJECT_TABLES = (
    ("ratings", "review_id IN (SELECT id FROM reviews WHERE project_id = ?)"),
    ("review_assignments", "pair_id IN (SELECT p.id FROM review_pairs p JOIN reviews r ON r.id = p.review_id "
                           "WHERE r.project_id = ?)"),
    ("review_pairs", "review_id IN (SELECT id FROM reviews WHERE project_id = ?)"),
    ("reviews", "project_id = ?"),
    ("generations", "project_id = ?"),
    ("dataset_rows", "version_id IN (SELECT id FROM dataset_versions WHERE project_id = ?)"),
    ("preference_rows", "version_id IN (SELECT id FROM dataset_versions WHERE project_id = ?)"),
    ("imported_preferences", "project_id = ?"),
    ("dataset_versions", "project_id = ?"),
    ("runs", "project_id = ?"),
    ("example_history", "example_id IN (SELECT id FROM examples WHERE project_id = ?)"),
    ("leases", "item_id IN (SELECT id FROM items WHERE project_id = ?)"),
    ("examples", "project_id = ?"),
    ("items", "project_id = ?"),
    ("imports", "project_id = ?"),
    ("projects", "id = ?"),
)


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
    """Per-project choices: overlap (annotators per item), system prompt, template, lease seconds, train settings."""


def _project(row: dict) -> dict:
    row["settings"] = row["settings"] or {}
    return row


def clean_labels(labels: list[str] | None) -> list[str] | None:
    """Labels without blanks or repeats (compared regardless of case), in the order given."""
    seen, kept = set(), []
    for label in labels or []:
        label = label.strip()
        if label and label.casefold() not in seen:
            seen.add(label.casefold())
            kept.append(label)
    return kept or None


class ProjectQueries:
    def _check_name(self, name: str, exclude_id: int | None = None) -> str:
        name = (name or "").strip()
        if not name:
            raise StoreError("A project needs a name.")
        existing = self.find_project(name)
        if existing is not None and existing.id != exclude_id:
            raise StoreError(f"A project named \u201c{existing.name}\u201d already exists (names are compared "
                             "regardless of case): pick it, or choose another name.")
        return name

    def create_project(self, name: str, task_type: str = "generation", description: str = "",
                       labels: list[str] | None = None, user_name: str | None = None,
                       json_schema: dict | None = None) -> Project:
        name = self._check_name(name)
        if task_type not in TASK_TYPES:
            raise StoreError(f"Unknown task type {task_type!r}: choose one of {', '.join(TASK_TYPES)}.")
        labels = clean_labels(labels)
        if task_type == "classification" and (not labels or len(labels) < 2):
            raise StoreError("A classification project needs at least two labels, e.g. \u201cphishing, legitimate\u201d: "
                             "list them with the project (--labels in the CLI, Labels in the Data tab).")
        with self.transaction() as tx:
            (project_id,) = tx.execute(
                "INSERT INTO projects (name, task_type, description, labels, json_schema) VALUES (?, ?, ?, ?, ?) RETURNING id",
                [name, task_type, description, json.dumps(labels) if labels else None,
                 json.dumps(json_schema) if json_schema else None],
            ).fetchone()
            self.audit("create_project", name, {"task_type": task_type}, user_name, tx)
        self._projects_changed()
        return self.get_project(project_id)

    def _projects(self, where: str = "", params: list | tuple = ()) -> list[Project]:
        return self._rows(Project, f"SELECT * FROM projects {where} ORDER BY name", params,
                          json_columns=("labels", "json_schema", "settings"), convert=_project)

    def update_project(self, project_id: int, labels: list[str] | None = None, json_schema: dict | None = None,
                       settings: dict | None = None, user_name: str | None = None) -> Project:
        """Change a project's label set, JSON Schema or settings (only those given)."""
        current = self.get_project(project_id)
        if labels is not None:
            labels = clean_labels(labels)
            if current.task_type == "classification" and (not labels or len(labels) < 2):
                raise StoreError("A classification project needs at least two labels: the label set was kept.")
        with self.transaction() as tx:
            tx.execute(
                "UPDATE projects SET labels = ?, json_schema = ?, settings = ? WHERE id = ?",
                [json.dumps(labels if labels is not None else current.labels),
                 json.dumps(json_schema if json_schema is not None else current.json_schema),
                 json.dumps({**current.settings, **(settings or {})}), project_id],
            )
            self.audit("update_project", current.name, {"labels": labels, "settings": settings}, user_name, tx)
        self._projects_changed()
        return self.get_project(project_id)

    def rename_project(self, project_id: int, new_name: str, user_name: str | None = None) -> Project:
        current = self.get_project(project_id)
        new_name = self._check_name(new_name, exclude_id=project_id)
        with self.transaction() as tx:
            tx.execute("UPDATE projects SET name = ? WHERE id = ?", [new_name, project_id])
            self.audit("rename_project", new_name, {"from": current.name}, user_name, tx)
        self._projects_changed()
        return self.get_project(project_id)

    def delete_project(self, project_id: int, user_name: str | None = None) -> dict[str, int]:
        """Delete a project and everything recorded under it; returns how many rows went, per table.

        Run folders on disk stay (they are the user's files; the app lists what it deletes).
        """
        current = self.get_project(project_id)
        removed = {}
        with self.everything_locked(), self.transaction() as tx:
            for table, condition in _PROJECT_TABLES:
                (count,) = tx.execute(f"SELECT count(*) FROM {table} WHERE {condition}", [project_id]).fetchone()
                tx.execute(f"DELETE FROM {table} WHERE {condition}", [project_id])
                removed[table] = int(count)
            self.audit("delete_project", current.name, {"project_id": project_id, "removed": removed}, user_name, tx)
        self._projects_changed()
        queue_changed(self.path)
        return removed

    def get_project(self, project_id: int) -> Project:
        rows = self._projects("WHERE id = ?", [project_id])
        if not rows:
            raise StoreError(f"No project with id {project_id}.")
        return rows[0]

    def find_project(self, name: str) -> Project | None:
        """A project by name (any case). Remembered until a project is created, changed, renamed or deleted
        through this store (the only writer while the app holds the database): every labeling and voting call
        looks its project up by the name in the page's bar, and the query was a tenth of a label call's CPU."""
        key = (name or "").strip().lower()
        known, generation = self._known_projects()
        if key in known:
            return dataclasses.replace(known[key])
        rows = self._projects("WHERE lower(name) = lower(?)", [key])
        if rows:
            with self._projects_lock:
                if self._projects_generation == generation:
                    known[key] = rows[0]
        return dataclasses.replace(rows[0]) if rows else None

    def _known_projects(self) -> tuple[dict, int]:
        if not hasattr(self, "_projects_lock"):
            with self._write_lock:  # made once, by whichever thread comes first
                if not hasattr(self, "_projects_lock"):
                    self._projects_generation, self._projects_by_name = 0, {}
                    self._projects_lock = threading.Lock()
        with self._projects_lock:
            return self._projects_by_name, self._projects_generation

    def _projects_changed(self) -> None:
        """Forget every project remembered by find_project (called after any write to the projects table)."""
        self._known_projects()
        with self._projects_lock:
            self._projects_generation += 1
            self._projects_by_name = {}

    def list_projects(self) -> list[Project]:
        return self._projects()
