"""The training child: `python -m ftstudio.training.worker RUN_DIR` (or under `accelerate launch`).

It reads only its run folder and writes only to it, never the studio database: its spec and data/ in;
metrics.jsonl, status.json, checkpoints/ and adapter/ out. It runs the recipe its spec names (training/recipes/),
each over the shared harness (training/harness.py). Cancel is a CANCEL file the callback obeys at the next step
(after saving a checkpoint); every checkpoint gets a COMPLETE marker once fully written, so a SIGKILL mid-save
never leaves a checkpoint that resume would trust.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from ftstudio.run_folder import RunFolder


def check_data(folder: RunFolder) -> None:
    """Refuse a damaged data file before the imports and the model load, with the line that is wrong."""
    from ftstudio.training.harness import StopRun

    for path in sorted(folder.data_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    line.strip() and json.loads(line)
                except ValueError as error:
                    raise StopRun(f"Line {number} of data/{path.name} in the run folder is not JSON "
                                  f"({type(error).__name__}: {error}): the folder was damaged or edited; prepare "
                                  "the run again.") from None


def train(run_dir: Path) -> int:
    """Run (or resume) the run in `run_dir` with the recipe its spec names; returns the process exit code."""
    from ftstudio.models import without_bitsandbytes
    from ftstudio.training.recipes import get_recipe

    folder = RunFolder(run_dir)
    spec = folder.spec
    check_data(folder)
    if spec.config.get("method") != "qlora":  # only QLoRA's 4-bit base needs it
        without_bitsandbytes()
    return get_recipe(spec.recipe, spec.objective).train(folder)


def main(argv: list[str] | None = None) -> int:
    """The child's entry point; failures are written to status.json for the app to show."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ftstudio.training.worker RUN_DIR", file=sys.stderr)
        return 2
    folder = RunFolder(Path(argv[0]).resolve())
    from ftstudio.training.device import yield_to_the_app
    from ftstudio.training.harness import StopRun, say

    yield_to_the_app()
    try:
        return train(folder.path)
    except StopRun as error:
        say(str(error))
        folder.write_status("failed", error=str(error))
        return 1
    except Exception as error:  # the app shows this; the traceback goes to worker.log
        traceback.print_exc()
        folder.write_status("failed", error=f"{type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
