"""A heavy job in a child process that talks to the app only through its folder (training runs, generation jobs).

The child writes status.json (atomically) and appends JSONL files; the app side reads them as they grow. Cancel is
a CANCEL file the child obeys at its next step or batch. This module is the one implementation of that protocol
both sides share: it imports neither the store nor any ML library, so a child can use it too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

CANCEL_FILE = "CANCEL"
STATUS_FILE = "status.json"
LOG_FILE = "worker.log"


def write_status(folder: Path, state: str, **fields) -> None:
    """Atomically replace status.json (a reader never sees half a file)."""
    status = {"state": state, "updated": time.time(), **fields}
    temporary = Path(folder) / f".{STATUS_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(status))
    os.replace(temporary, Path(folder) / STATUS_FILE)


def read_status(folder: Path) -> dict:
    """The child's last status.json, or {} when it has written none (yet)."""
    try:
        return json.loads((Path(folder) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def read_jsonl(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Lines appended to a JSONL file since byte `offset`, and the new offset; a half-written last line waits."""
    if not path.exists():
        return [], offset
    with path.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    records = []
    for line in complete.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records, offset + len(complete)


def cancel_requested(folder: Path) -> bool:
    """Has the app asked the child working in `folder` to stop?"""
    return (Path(folder) / CANCEL_FILE).exists()


def request_cancel(folder: Path) -> None:
    """Ask the child working in `folder` to stop at its next step or batch."""
    (Path(folder) / CANCEL_FILE).write_text(str(time.time()))


def clear_cancel(folder: Path) -> None:
    (Path(folder) / CANCEL_FILE).unlink(missing_ok=True)


def start_child(command: list[str], folder: Path, new_session: bool = False) -> subprocess.Popen:
    """Start `command` with its output appended to the folder's worker.log (unbuffered, no stdin).

    `new_session` puts it in its own process group, so a kill reaches every process it starts (accelerate)."""
    with (Path(folder) / LOG_FILE).open("a") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"},
                                start_new_session=new_session)


def python_module_command(module: str, *arguments: str) -> list[str]:
    """`python -m module arguments...` with this interpreter."""
    return [sys.executable, "-m", module, *arguments]


def peak_resident_mb() -> float:
    """This process's own peak resident memory, in MiB. Read from /proc (VmHWM) where there is one, because Linux
    carries ru_maxrss across exec: a child started from a large app would report the app's size as its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # kilobytes on Linux
