"""The judge's prompts (versioned per project and mode), its judgments, and model-based scores of outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JUDGMENT_STATUSES = ("ok", "invalid", "failed")


@dataclass
class JudgePromptRow:
    id: int
    project_id: int
    mode: str
    version: int
    system_prompt: str
    template: str
    rubric: str
    digest: str
    created_by: str | None
    created_at: Any


@dataclass
class Judgment:
    id: int
    project_id: int
    cache_key: str
    judge: str
    mode: str
    prompt_version: str
    prompt_digest: str
    item_key: str
    generation_a: int
    generation_b: int | None
    shown_first: int
    status: str
    verdict: str | None
    score: float | None
    raw: str | None
    error: str | None
    seconds: float | None
    attempts: int
    created_by: str | None
    created_at: Any
    updated_at: Any


JUDGMENT_COLUMNS = ("project_id", "cache_key", "judge", "mode", "prompt_version", "prompt_digest", "item_key",
                    "generation_a", "generation_b", "shown_first", "status", "verdict", "score", "raw", "error",
                    "seconds", "created_by")
# What a new answer to an earlier request replaces (a failed request retried, or an invalid one asked again).
_REPLACED = ("status", "verdict", "score", "raw", "error", "seconds")


class JudgingQueries:
    # --- judge prompts -------------------------------------------------------------------

    def judge_prompts(self, project_id: int, mode: str) -> list[JudgePromptRow]:
        """Every saved version, newest first."""
        return self._rows(JudgePromptRow, """SELECT * FROM judge_prompts WHERE project_id = ? AND mode = ?
                                             ORDER BY version DESC""", [project_id, mode])

    def save_judge_prompt(self, project_id: int, mode: str, system_prompt: str, template: str, rubric: str,
                          digest: str, user_name: str | None = None) -> JudgePromptRow:
        with self._write_lock, self.transaction() as tx:
            (latest,) = tx.execute("SELECT coalesce(max(version), 0) FROM judge_prompts WHERE project_id = ? "
                                   "AND mode = ?", [project_id, mode]).fetchone()
            (prompt_id,) = tx.execute(
                """INSERT INTO judge_prompts (project_id, mode, version, system_prompt, template, rubric, digest,
                                              created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, mode, latest + 1, system_prompt, template, rubric, digest, user_name]).fetchone()
            self.audit("save_judge_prompt", f"project {project_id}", {"mode": mode, "version": latest + 1},
                       user_name, tx)
        return self._one(JudgePromptRow, "SELECT * FROM judge_prompts WHERE id = ?", [prompt_id])

    # --- judgments -------------------------------------------------------------------------

    def judgments_by_keys(self, cache_keys: list[str]) -> dict[str, Judgment]:
        found = {}
        for start in range(0, len(cache_keys), 500):
            chunk = cache_keys[start:start + 500]
            for judgment in self._rows(Judgment, f"SELECT * FROM judgments WHERE cache_key IN "
                                                 f"({', '.join('?' * len(chunk))})", chunk):
                found[judgment.cache_key] = judgment
        return found

    def record_judgments(self, rows: list[dict]) -> None:
        """Store judgments; one already stored under the same cache key takes the new answer (a retry)."""
        if not rows:
            return
        updates = ", ".join(f"{column} = excluded.{column}" for column in _REPLACED)
        with self._write_lock, self.transaction() as tx:
            for row in rows:
                tx.execute(
                    f"""INSERT INTO judgments ({', '.join(JUDGMENT_COLUMNS)})
                        VALUES ({', '.join('?' * len(JUDGMENT_COLUMNS))})
                        ON CONFLICT (cache_key) DO UPDATE SET {updates}, attempts = judgments.attempts + 1,
                                                              updated_at = now()""",
                    [row.get(column) for column in JUDGMENT_COLUMNS])

    def list_judgments(self, project_id: int, generation_ids: list[int], mode: str | None = None) -> list[Judgment]:
        """Judgments whose first generation is one of these (pairs and single grades alike), oldest first."""
        found: list[Judgment] = []
        for start in range(0, len(generation_ids), 500):
            chunk = generation_ids[start:start + 500]
            where = f"project_id = ? AND generation_a IN ({', '.join('?' * len(chunk))})"
            params = [project_id, *chunk]
            if mode:
                where += " AND mode = ?"
                params.append(mode)
            found += self._rows(Judgment, f"SELECT * FROM judgments WHERE {where} ORDER BY id", params)
        return sorted(found, key=lambda judgment: judgment.id)

    # --- model-based scores of outputs --------------------------------------------------------

    def generation_metrics(self, generation_ids: list[int]) -> dict[int, dict[str, float]]:
        scores: dict[int, dict[str, float]] = {}
        for start in range(0, len(generation_ids), 500):
            chunk = generation_ids[start:start + 500]
            for generation_id, metric, value in self.cursor().execute(
                    f"SELECT generation_id, metric, value FROM generation_metrics WHERE generation_id IN "
                    f"({', '.join('?' * len(chunk))})", chunk).fetchall():
                scores.setdefault(generation_id, {})[metric] = value
        return scores

    def add_generation_metrics(self, rows: list[tuple[int, str, float | None]]) -> None:
        with self._write_lock, self.transaction() as tx:
            for generation_id, metric, value in rows:
                tx.execute("""INSERT INTO generation_metrics (generation_id, metric, value) VALUES (?, ?, ?)
                              ON CONFLICT (generation_id, metric) DO UPDATE SET value = excluded.value""",
                           [generation_id, metric, value])
