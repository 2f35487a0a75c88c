"""16 people labeling and voting at once for 5 seconds against a running app, then a SIGKILL in the middle of
their work: every acknowledged write is in the database, none twice, no response is an error, and the database
reopens as it is, without repair."""

from __future__ import annotations

import os
import time

from ftstudio.bench.load import AppProcess, seed_studio, simulate_users, summary, written_counts
from tests.conftest import free_port

# Long enough for every one of the sixteen to have written (a hundred or more writes, on 2 cores), with calls in
# flight when the kill lands; FTSTUDIO_LOAD_SECONDS=60 for a longer soak.
SECONDS = float(os.environ.get("FTSTUDIO_LOAD_SECONDS", "5"))


def test_sixteen_people_label_and_vote_at_once_then_the_app_is_killed(settings, tiny_model_dir, capsys):
    settings.base_model = str(tiny_model_dir)
    # Enough to label and vote on for the whole load and more (about 80 items and 16 blind pairs a second of it).
    info = seed_studio(settings, items=max(400, int(80 * SECONDS)), prompts=max(80, int(16 * SECONDS)))
    app = AppProcess(settings.home, str(tiny_model_dir), free_port())
    try:
        app.start()  # not waited on until idle: nothing here is a timed figure (`ftstudio bench load` measures)
        started = time.monotonic()

        def kill_at_the_end(tallies) -> bool:  # killed while everyone is still working: calls in flight
            # and not before labels and votes are in and every one of the sixteen has had two answers (on a slow
            # or busy machine the first calls take seconds: the kill waits for the work, not for a fixed time)
            worked = all(any(t.acknowledged for t in tallies if t.role == role) for role in ("label", "review")) \
                and all(len(t.latencies) >= 2 for t in tallies)
            if time.monotonic() - started < SECONDS or not worked:
                return False
            app.kill()
            return True

        tallies = simulate_users(app.url, info["run_id"], SECONDS + 30, users=16, ends_app=kill_at_the_end)
        figures = summary(tallies, SECONDS)
        with capsys.disabled():
            print(f"\nload: {figures}")
        refused = [e for t in tallies for e in t.errors]
        assert not refused, refused[:5]  # no response was an error, before the kill
        assert figures["labels"] > 0 and figures["votes"] > 0
        assert all(t.latencies for t in tallies), "someone never got an answer"

        stored = written_counts(settings, info["run_id"])  # the database opens as the kill left it
        assert stored.pop("__twice__") == 0, "a label or vote was stored twice"
        for tally in tallies:
            held = stored.get(tally.name, 0)
            # Acknowledged means stored; the one call in flight at the kill may be stored without its answer.
            assert tally.acknowledged <= held <= tally.acknowledged + 1, (tally.name, held, tally)

        app.start()  # and the app starts on it again, where people carry on (nothing is measured here)
        again = simulate_users(app.url, info["run_id"], 60, users=4,
                               ends_app=lambda people: sum(t.acknowledged for t in people) >= 4)
        assert sum(t.acknowledged for t in again) > 0 and not [e for t in again for e in t.errors]
    finally:
        app.stop()
