"""Training runs as the app records them (the run folder is the source of truth for what a run did)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ftstudio.store.connection import StoreError, queue_changed

RUN_SYSTEM_PREFIX = "run-"
RUN_FIELDS = ("status", "pid", "step", "max_steps", "train_loss", "eval_loss", "started_at", "finished_at", "error")


def run_system_name(run_id: int) -> str:
    """How a run's adapter is named among the systems a review compares: `run-ID`."""
    return f"{RUN_SYSTEM_PREFIX}{run_id}"


@dataclass
class Run:
    id: int
    project_id: int
    version_id: int | None
    name: str
    base_model: str
    method: str
    config: dict
    status: str
    run_dir: str
    pid: int | None
    step: int
    max_steps: int | None
    train_loss: float | None
    eval_loss: float | None
    created_by: str | None
    created_at: Any
    started_at: Any
    finished_at: Any
    error: str | None = None
    version_name: str | None = None
    project_name: str | None = None

    @property
    def system(self) -> str:
        """How this run's adapter is named among the systems a review compares."""
        return run_system_name(self.id)


_SELECT = """SELECT r.*, v.name AS version_name, p.name AS project_name FROM runs r
             JOIN projects p ON p.id = r.project_id LEFT JOIN dataset_versions v ON v.id = r.version_id"""


class RunQueries:
    RUN_FIELDS = RUN_FIELDS

    def create_run(self, project_id: int, version_id: int | None, name: str, base_model: str, method: str,
                   config: dict, run_dir: str, user_name: str | None, status: str = "queued") -> int:
        with self.transaction() as tx:
            (run_id,) = tx.execute(
                """INSERT INTO runs (project_id, version_id, name, base_model, method, config, run_dir, created_by, status)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, version_id, name, base_model, method, json.dumps(config), run_dir, user_name, status],
            ).fetchone()
            self.audit("create_run", name, {"run_id": run_id, "method": method}, user_name, tx)
        queue_changed(self.path)
        return run_id

    def update_run(self, run_id: int, **changes) -> None:
        if not set(changes) <= set(RUN_FIELDS):
            raise StoreError(f"Runs have no field(s) {', '.join(set(changes) - set(RUN_FIELDS))}.")
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in changes)
            self.cursor().execute(f"UPDATE runs SET {assignments} WHERE id = ?", [*changes.values(), run_id])
            if "name" in changes:  # a run's name is how a revealed vote names it
                queue_changed(self.path)

    def get_run(self, run_id: int) -> Run | None:
        return self._one(Run, f"{_SELECT} WHERE r.id = ?", [run_id], json_columns=("config",))

    def find_run(self, reference: str | int, project_id: int | None = None) -> Run | None:
        """A run by id, by `run-ID`, or by its folder name."""
        text = str(reference).strip()
        if text.removeprefix(RUN_SYSTEM_PREFIX).isdigit():
            run = self.get_run(int(text.removeprefix(RUN_SYSTEM_PREFIX)))
        else:
            run = self._one(Run, f"{_SELECT} WHERE r.name = ?", [text], json_columns=("config",))
        if run is not None and project_id is not None and run.project_id != project_id:
            return None
        return run

    def list_runs(self, project_id: int | None = None, statuses: tuple[str, ...] | None = None) -> list[Run]:
        where, params = [], []
        if project_id is not None:
            where.append("r.project_id = ?")
            params.append(project_id)
        if statuses:
            where.append(f"r.status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self._rows(Run, f"{_SELECT} {clause} ORDER BY r.id DESC", params, json_columns=("config",))
