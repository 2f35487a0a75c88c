"""Generations, blind reviews, their pairs, the assignments reviewers see, and the ratings they give."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ftstudio.store.connection import StoreError, queue_changed, queue_changes

WINNERS = ("a", "b", "tie", "both_bad")


@dataclass
class Generation:
    id: int
    project_id: int
    cache_key: str
    settings_key: str
    item_key: str
    system: str
    run_id: int | None
    version_id: int | None
    example_id: int | None
    input: str
    reference: str | None
    prompt: str
    output: str
    settings: dict
    metadata: dict | None
    seconds: float | None
    created_by: str | None
    created_at: Any
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass
class Review:
    id: int
    project_id: int
    run_id: int | None
    systems: list[str]
    settings_key: str
    overlap: int
    created_by: str | None
    created_at: Any
    split: str | None = None  # 'train': votes for preference data, not a grade


@dataclass
class ReviewPair:
    id: int
    review_id: int
    item_key: str
    generation_a: int
    generation_b: int
    position: float


@dataclass
class Assignment:
    token: str
    pair_id: int
    reviewer: str
    left_generation: int
    expires_at: Any
    created_at: Any


@dataclass
class Rating:
    id: int
    review_id: int
    pair_id: int
    generation_a: int
    generation_b: int
    shown_left: int
    winner: str
    score_a: int | None
    score_b: int | None
    comment: str | None
    rater: str
    seconds: float | None
    created_at: Any


GENERATION_COLUMNS = ("project_id", "cache_key", "settings_key", "item_key", "system", "run_id", "version_id",
                      "example_id", "input", "reference", "prompt", "output", "settings", "metadata", "seconds",
                      "created_by", "latency_ms", "input_tokens", "output_tokens")


class ReviewQueries:
    # --- generations -------------------------------------------------------------------

    def add_generations(self, rows: list[dict]) -> int:
        """Store generated outputs; one already stored under the same cache key is kept as it was."""
        added = 0
        with self._write_lock, self.transaction() as tx:
            for row in rows:
                values = [json.dumps(row.get(c)) if c in ("settings", "metadata") else row.get(c)
                          for c in GENERATION_COLUMNS]
                result = tx.execute(
                    f"""INSERT INTO generations ({', '.join(GENERATION_COLUMNS)})
                        VALUES ({', '.join('?' * len(GENERATION_COLUMNS))}) ON CONFLICT (cache_key) DO NOTHING""",
                    values).fetchone()
                added += int(result[0]) if result else 0
        queue_changed(self.path)
        return added

    def _generations(self, where: str, params: list) -> list[Generation]:
        return self._rows(Generation, f"SELECT * FROM generations WHERE {where} ORDER BY id", params,
                          json_columns=("settings", "metadata"))

    def generations_by_keys(self, cache_keys: list[str]) -> dict[str, Generation]:
        if not cache_keys:
            return {}
        found = {}
        for start in range(0, len(cache_keys), 500):
            chunk = cache_keys[start:start + 500]
            for generation in self._generations(f"cache_key IN ({', '.join('?' * len(chunk))})", chunk):
                found[generation.cache_key] = generation
        return found

    def get_generation(self, generation_id: int) -> Generation | None:
        found = self._generations("id = ?", [generation_id])
        return found[0] if found else None

    def get_generations(self, generation_ids: list[int]) -> dict[int, Generation]:
        """Several answers by id in one query (a blind pair's two)."""
        if not generation_ids:
            return {}
        found = self._generations(f"id IN ({', '.join('?' * len(generation_ids))})", list(generation_ids))
        return {generation.id: generation for generation in found}

    def list_generations(self, project_id: int, settings_key: str | None = None,
                         systems: list[str] | None = None) -> list[Generation]:
        where, params = ["project_id = ?"], [project_id]
        if settings_key:
            where.append("settings_key = ?")
            params.append(settings_key)
        if systems:
            where.append(f"system IN ({', '.join('?' * len(systems))})")
            params.extend(systems)
        return self._generations(" AND ".join(where), params)

    # --- reviews and their pairs -----------------------------------------------------------

    def find_review(self, project_id: int, run_id: int | None, systems: list[str], settings_key: str) -> Review | None:
        return self._one(Review, """SELECT * FROM reviews WHERE project_id = ? AND run_id IS NOT DISTINCT FROM ?
                                    AND CAST(systems AS VARCHAR) = ? AND settings_key = ? ORDER BY id DESC LIMIT 1""",
                         [project_id, run_id, json.dumps(systems), settings_key], json_columns=("systems",))

    def create_review(self, project_id: int, run_id: int | None, systems: list[str], settings_key: str,
                      overlap: int = 1, user_name: str | None = None, split: str | None = None) -> Review:
        with self.transaction() as tx:
            (review_id,) = tx.execute(
                """INSERT INTO reviews (project_id, run_id, systems, settings_key, overlap, created_by, split)
                   VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [project_id, run_id, json.dumps(systems), settings_key, overlap, user_name, split]).fetchone()
            self.audit("create_review", f"review {review_id}", {"run_id": run_id, "systems": systems}, user_name, tx)
        queue_changed(self.path)
        return self.get_review(review_id)

    def mark_review_generated(self, review_id: int) -> None:
        """Answers were (re)generated for this review just now."""
        with self._write_lock, self.transaction() as tx:
            tx.execute("UPDATE reviews SET generated_at = current_timestamp WHERE id = ?", [review_id])
        queue_changed(self.path)

    def newest_generated_review(self, project_id: int, run_id: int) -> Review | None:
        """The run's review whose answers were generated last."""
        return self._one(Review, """SELECT * FROM reviews WHERE project_id = ? AND run_id = ?
                                    ORDER BY coalesce(generated_at, created_at) DESC, id DESC LIMIT 1""",
                         [project_id, run_id], json_columns=("systems",))

    def get_review(self, review_id: int) -> Review | None:
        return self._one(Review, "SELECT * FROM reviews WHERE id = ?", [review_id], json_columns=("systems",))

    def list_reviews(self, project_id: int, run_id: int | None = None) -> list[Review]:
        where, params = "project_id = ?", [project_id]
        if run_id is not None:
            where += " AND run_id = ?"
            params.append(run_id)
        return self._rows(Review, f"SELECT * FROM reviews WHERE {where} ORDER BY id DESC", params,
                          json_columns=("systems",))

    def set_review_overlap(self, review_id: int, overlap: int, user_name: str | None = None) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE reviews SET overlap = ? WHERE id = ?", [overlap, review_id])
            self.audit("review_overlap", f"review {review_id}", {"overlap": overlap}, user_name, tx)
        queue_changed(self.path)

    def add_review_pairs(self, review_id: int, pairs: list[tuple[str, int, int, float]]) -> int:
        """Add (item_key, generation_a, generation_b, position) pairs the review does not hold yet."""
        added = 0
        with self._write_lock, self.transaction() as tx:
            for item_key, first, second, position in pairs:
                result = tx.execute(
                    """INSERT INTO review_pairs (review_id, item_key, generation_a, generation_b, position)
                       VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                    [review_id, item_key, first, second, position]).fetchone()
                added += int(result[0]) if result else 0
        return added

    def queue_fingerprint(self, project_id: int) -> tuple:
        """Changes whenever answers, runs or reviews are added or removed, a review's answers are generated again,
        or its reviewers per pair change: what a review's queue plan (which pairs, which are identical, which
        inputs are left out) and a voting call's run and review are read from. Counted in memory by the store
        methods that make those writes (this process is the database's only writer), for every Store open on
        the same file: the query it replaced cost as much as a vote's other reads together."""
        return (project_id, queue_changes(self.path))

    def review_pairs(self, review_id: int) -> list[ReviewPair]:
        return self._rows(ReviewPair, "SELECT * FROM review_pairs WHERE review_id = ? ORDER BY position", [review_id])

    def get_review_pair(self, pair_id: int) -> ReviewPair | None:
        return self._one(ReviewPair, "SELECT * FROM review_pairs WHERE id = ?", [pair_id])

    # --- a reviewer's queue ----------------------------------------------------------------

    def assign_next_pair(self, review_id: int, reviewer: str, token: str, left_first: bool, lease_seconds: int,
                         overlap: int, now: datetime | None = None) -> Assignment | None:
        """The reviewer's open assignment (a reload resumes it), else the next pair they have not rated that
        fewer than `overlap` people have rated or hold; None when their queue is empty. An expired hold counts
        for nobody (deleted now and then, not on every call: Connection.forget_expired)."""
        now = now or datetime.now()
        with self._review_lock, self.transaction() as tx:
            self.forget_expired(tx, "review_assignments", now)
            mine = self._one(Assignment, """SELECT a.* FROM review_assignments a JOIN review_pairs p ON p.id = a.pair_id
                                            WHERE p.review_id = ? AND a.reviewer = ? AND a.expires_at >= ?
                                            ORDER BY a.created_at LIMIT 1""",
                             [review_id, reviewer, now], cursor=tx)
            if mine is not None:
                return mine
            # Two anti-joins (what this reviewer rated; what is full: ratings plus live holds), the cheapest of
            # the forms tried in DuckDB (per-pair subqueries, a join of per-pair counts).
            row = tx.execute(
                """SELECT p.id, p.generation_a, p.generation_b FROM review_pairs p WHERE p.review_id = ?
                     AND p.id NOT IN (SELECT pair_id FROM ratings WHERE review_id = ? AND rater = ?)
                     AND p.id NOT IN (SELECT pair_id FROM (
                             SELECT pair_id FROM ratings WHERE review_id = ?
                             UNION ALL SELECT pair_id FROM review_assignments WHERE expires_at >= ?)
                         GROUP BY pair_id HAVING count(*) >= ?)
                   ORDER BY p.position LIMIT 1""",
                [review_id, review_id, reviewer, review_id, now, overlap]).fetchone()
            if row is None:
                return None
            pair_id, first, second = row
            return self._one(Assignment, """INSERT INTO review_assignments (token, pair_id, reviewer, left_generation,
                                                                           expires_at)
                                            VALUES (?, ?, ?, ?, ?) RETURNING *""",
                             [token, pair_id, reviewer, first if left_first else second,
                              now + timedelta(seconds=lease_seconds)], cursor=tx)

    def get_assignment(self, token: str) -> Assignment | None:
        """The hold behind a token, expired or not (an expired one stays until Connection.forget_expired)."""
        return self._one(Assignment, "SELECT * FROM review_assignments WHERE token = ?", [token])

    def assigned_pair(self, token: str, now: datetime | None = None) -> tuple[Assignment, ReviewPair,
                                                                               dict[int, Generation]] | None:
        """A live hold with its pair and the pair's two answers (a vote reads all three); None once the hold
        has expired, as if it had been deleted."""
        held = self.get_assignment(token)
        if held is None or held.expires_at < (now or datetime.now()):
            return None
        pair, answers = self.pair_answers(held.pair_id)
        return held, pair, answers

    def pair_answers(self, pair_id: int) -> tuple[ReviewPair, dict[int, Generation]]:
        """A pair and its two answers. Two lookups by primary key: one query joining the three rows cost DuckDB
        twice as much (a join scans the generations table to build its hash table; a key lookup does not)."""
        pair = self.get_review_pair(pair_id)
        return pair, self.get_generations([pair.generation_a, pair.generation_b])

    def record_rating(self, assignment: Assignment, winner: str, score_a: int | None, score_b: int | None,
                      comment: str | None, pair: ReviewPair | None = None) -> Rating:
        """Turn an assignment into a rating (in the pair's own a/b terms) and close the assignment. `pair`: the
        assignment's pair, when the caller has read it already."""
        if winner not in WINNERS:
            raise StoreError(f"A vote is one of {', '.join(WINNERS)}; got {winner!r}.")
        if pair is None or pair.id != assignment.pair_id:
            pair = self.get_review_pair(assignment.pair_id)
        seconds = (datetime.now() - assignment.created_at).total_seconds()
        with self._review_lock, self.transaction() as tx:
            rating = self._one(Rating,  # nothing comes back when this reviewer has rated the pair already
                """INSERT INTO ratings (review_id, pair_id, generation_a, generation_b, shown_left, winner,
                                        score_a, score_b, comment, rater, seconds)
                   SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
                   WHERE NOT EXISTS (SELECT 1 FROM ratings WHERE pair_id = ? AND rater = ?) RETURNING *""",
                [pair.review_id, pair.id, pair.generation_a, pair.generation_b, assignment.left_generation, winner,
                 score_a, score_b, comment or None, assignment.reviewer, seconds, pair.id, assignment.reviewer],
                cursor=tx)
            if rating is None:
                raise StoreError("You already rated this pair: load the next one.")
            tx.execute("DELETE FROM review_assignments WHERE token = ?", [assignment.token])
            self.audit("rate", f"review {pair.review_id}", {"pair_id": pair.id, "winner": winner},
                       assignment.reviewer, tx)
        return rating

    def list_ratings(self, review_id: int) -> list[Rating]:
        return self._rows(Rating, "SELECT * FROM ratings WHERE review_id = ? ORDER BY id", [review_id])

    def review_counts(self, review_id: int, reviewer: str, overlap: int) -> dict:
        (pairs, complete, mine, ratings) = self.cursor().execute(
            """WITH rated AS (SELECT pair_id, count(*) AS n FROM ratings WHERE review_id = ? GROUP BY pair_id)
               SELECT (SELECT count(*) FROM review_pairs WHERE review_id = ?),
                      (SELECT count(*) FROM rated WHERE n >= ?),
                      (SELECT count(*) FROM ratings WHERE review_id = ? AND rater = ?),
                      (SELECT count(*) FROM ratings WHERE review_id = ?)""",
            [review_id, review_id, overlap, review_id, reviewer, review_id]).fetchone()
        return {"pairs": pairs, "done": complete, "left": pairs - complete, "mine": mine, "ratings": ratings}

