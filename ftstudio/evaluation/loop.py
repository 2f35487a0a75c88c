"""The loop closed: a DPO run answers the test prompts beside the model it started from (and the base model), in a
new blind review, so the results view can show whether preference tuning helped. This module says which systems
and inputs that is; compare.compare_run decides when a review is the loop, and opens it.

Prompts the run learned from (its preference pairs, and what its start run trained on) are left out: a model
graded on the very prompts it was tuned to prefer answers to would look better than it is.
"""

from __future__ import annotations

from ftstudio.evaluation.generations import inputs_from_split, left_out_inputs, run_spec
from ftstudio.evaluation.systems import BASE, EvaluationError
from ftstudio.store import Run, Store


def is_preference_run(run: Run) -> bool:
    return run_spec(run).objective == "dpo"


def start_of(store: Store, run: Run) -> Run | None:
    start = run_spec(run).start_run
    return store.get_run(int(start)) if start else None


def loop_systems(store: Store, run: Run) -> list[str]:
    """The DPO run, the run it started from (when it did), and the base model."""
    start = start_of(store, run)
    return [run.system, *([start.system] if start is not None else []), BASE]


def loop_inputs(store: Store, run: Run, split: str = "test") -> tuple[list, int]:
    """The split's inputs the run did not learn from, and how many were left out because it did."""
    inputs = inputs_from_split(store, run, split)
    left_out = left_out_inputs(store, run, loop_systems(store, run), {item.input for item in inputs})
    kept = [item for item in inputs if item.input not in left_out]
    if not kept:
        raise EvaluationError(f"Every {split} prompt was among the preference pairs run {run.id} trained on, so a "
                              "review there would grade it on what it was taught. Vote on answers to train-split "
                              "prompts (Review tab: Inputs, train split) to build preference data, and keep the test "
                              "split for this review.")
    return kept, len(inputs) - len(kept)

