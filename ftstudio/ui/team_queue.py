"""How the calls a team makes all day are served: next item, accept, skip, flag and undo on the Label tab; next
pair and the votes on the Review tab.

They are quick (a few short queries), show no progress and start no long job, so they skip Gradio's queue
(`queue=False`): the page sends each as one HTTP POST to /gradio_api/run/NAME and gets its answer back in the
reply, and the server runs it in its thread pool, side by side with the others, instead of creating a queued
event, waiting for a slot and streaming the answer back as server-sent events. The store keeps the parts that must
not interleave (taking a lease, recording a vote) in short transactions under its own write lock, so nothing
needs the queue's slots for correctness.

`FTSTUDIO_TEAM_SLOTS=1` brings back the behaviour of the first release (queued, one slot shared with every other
handler that writes): `ftstudio bench load` measures it as its baseline. Any other value (8 by default) is kept for
compatibility and means "side by side".
"""

from __future__ import annotations

import os

SLOTS_VARIABLE = "FTSTUDIO_TEAM_SLOTS"
DEFAULT_SLOTS = 8


def team_slots() -> int:
    value = os.environ.get(SLOTS_VARIABLE, "").strip()
    try:
        return max(1, int(value)) if value else DEFAULT_SLOTS
    except ValueError:
        raise ValueError(f"{SLOTS_VARIABLE} is a whole number of calls at once (1 or more); got {value!r}.") from None


def team_calls() -> dict:
    """Event options for a labeling or voting handler."""
    if team_slots() == 1:
        return {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    return {"queue": False}


def lighter_queue_analytics() -> None:
    """Gradio's queue recomputes its monitoring summary (a pandas DataFrame of up to 10,000 past events, grouped
    per function) after every event unless told otherwise; under a team's thousands of calls that cost grows with
    every call. Every 500 events is enough for its monitoring page. Set before `Blocks.queue()` builds the
    queue; a value already in the environment is kept."""
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")
