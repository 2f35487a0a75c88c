"""`ftstudio bench ingest`: import a generated mbox of N emails (20,000 by default), the same file through
a naive baseline, and a second mbox of 8 x N emails through the studio, to show how time and peak
memory grow with the size of the file.

The baseline is the textbook approach: `mailbox.mbox` with the stdlib's modern email policy, then one
duplicate lookup and one INSERT per row. Each import runs in a child process of its own, so that its
peak memory (the child's maximum resident set size) is its own and not what an earlier one left.
"""

from __future__ import annotations

import email.policy
import hashlib
import json
import mailbox
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ftstudio.bench.synthetic import write_mbox
from ftstudio.config import IngestLimits
from ftstudio.importing import import_paths, normalise_for_hash
from ftstudio.store import open_store

SCALE = 8


def _naive_import(store, project, mbox_path: Path) -> tuple[int, int]:
    imported = duplicates = 0
    with store.transaction() as tx:
        import_id = store.begin_import(tx, project.id, [mbox_path.name], {}, None)
        for message in mailbox.mbox(str(mbox_path), factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default)):
            body = message.get_body(preferencelist=("plain", "html"))
            text = body.get_content() if body is not None else ""
            subject = str(message["subject"] or "")
            row = {
                "content_hash": hashlib.blake2b(normalise_for_hash(subject + "\n" + text).encode(), digest_size=16).hexdigest(),
                "kind": "email", "source": mbox_path.name, "title": subject, "author": str(message["from"] or ""),
                "written_at": None, "text": text,
                "metadata": json.dumps({"message_id": str(message["message-id"] or "")}), "pii_masked": False,
            }
            if store.insert_item_naive(tx, project.id, import_id, row):
                imported += 1
            else:
                duplicates += 1
    return imported, duplicates


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB on Linux


def _import_once(which: str, mbox_path: Path, database: Path) -> dict:
    """One import in this process (the child's side): seconds, counts and this process's peak memory."""
    store = open_store(database)
    project = store.create_project("bench", "generation")
    started = time.perf_counter()
    if which == "studio":
        report = import_paths(store, project, [mbox_path], IngestLimits())
        imported, duplicates, skipped = report.imported, report.duplicates, len(report.errors)
    else:
        imported, duplicates = _naive_import(store, project, mbox_path)
        skipped = 0
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "imported": imported, "duplicates": duplicates, "skipped": skipped,
            "peak_mb": _peak_mb()}


def _in_child(which: str, mbox_path: Path, database: Path) -> dict:
    output = subprocess.run([sys.executable, "-m", "ftstudio.bench.ingest", which, str(mbox_path), str(database)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def bench_ingest(emails: int = 20_000, scale: int = SCALE) -> dict:
    with tempfile.TemporaryDirectory(prefix="ftstudio-bench-") as tmp:
        tmp = Path(tmp)
        mbox_path = write_mbox(tmp / "bench.mbox", emails)
        size_mb = mbox_path.stat().st_size / 1e6
        studio = _in_child("studio", mbox_path, tmp / "studio.duckdb")
        baseline = _in_child("baseline", mbox_path, tmp / "baseline.duckdb")
        mbox_path.unlink()
        big_path = write_mbox(tmp / "bench-scaled.mbox", emails * scale)
        big_mb = big_path.stat().st_size / 1e6
        scaled = _in_child("studio", big_path, tmp / "studio-scaled.duckdb")

    return {
        "benchmark": "ingest",
        "emails": emails,
        "mbox_mb": round(size_mb, 1),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "studio_seconds": round(studio["seconds"], 2),
        "studio_emails_per_second": round(emails / studio["seconds"]),
        "studio_imported": studio["imported"],
        "studio_duplicates": studio["duplicates"],
        "studio_skipped": studio["skipped"],
        "studio_peak_mb": studio["peak_mb"],
        "baseline_seconds": round(baseline["seconds"], 2),
        "baseline_emails_per_second": round(emails / baseline["seconds"]),
        "baseline_imported": baseline["imported"],
        "baseline_duplicates": baseline["duplicates"],
        "baseline_peak_mb": baseline["peak_mb"],
        "speedup": round(baseline["seconds"] / studio["seconds"], 1),
        # Both must keep the same emails, or the speed-up measures a different job.
        "same_items": studio["imported"] == baseline["imported"] and not studio["skipped"],
        "scaled_emails": emails * scale,
        "scaled_mbox_mb": round(big_mb, 1),
        "scaled_studio_seconds": round(scaled["seconds"], 2),
        "scaled_studio_emails_per_second": round(emails * scale / scaled["seconds"]),
        "scaled_studio_imported": scaled["imported"],
        "scaled_studio_peak_mb": scaled["peak_mb"],
        # How the studio grows with the file: time should grow about `scale` times, peak memory hardly.
        "scaled_time_ratio": round(scaled["seconds"] / studio["seconds"], 1),
        "scaled_peak_memory_ratio": round(scaled["peak_mb"] / studio["peak_mb"], 2),
    }


if __name__ == "__main__":  # the child process of one measured import
    which, mbox, database = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    print(json.dumps(_import_once(which, mbox, database)))
