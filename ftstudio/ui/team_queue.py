"""How the calls a team makes all day are queued: next item, accept, skip, flag and undo on the Label tab; next
pair and the votes on the Review tab.

They run side by side, up to `FTSTUDIO_TEAM_SLOTS` at once (8 by default), instead of one at a time behind every
other write: each is a few short queries, and the store keeps the parts that must not interleave (taking a lease,
recording a vote) in short transactions under its own write lock. `FTSTUDIO_TEAM_SLOTS=1` brings back the
behaviour before (one slot, shared with every other handler that writes): `ftstudio bench load` measures it as
its baseline.
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
    slots = team_slots()
    if slots == 1:
        return {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    return {"concurrency_limit": slots, "concurrency_id": "team"}


def lighter_queue_analytics() -> None:
    """Gradio's queue recomputes its monitoring summary (a pandas DataFrame of up to 10,000 past events, grouped
    per function) after every event unless told otherwise; under a team's thousands of calls that cost grows with
    every call. Every 500 events is enough for its monitoring page. Set before `Blocks.queue()` builds the
    queue; a value already in the environment is kept."""
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")
