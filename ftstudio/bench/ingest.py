"""`ftstudio bench ingest`: import a generated 20,000-email mbox, and the same file through a naive baseline.

The baseline is the textbook approach: `mailbox.mbox` with the stdlib's modern
email policy, then one duplicate lookup and one INSERT per row. Both write into
fresh studio databases of the same schema, in the same run, on the same file.
"""

from __future__ import annotations

import email.policy
import hashlib
import json
import mailbox
import os
import platform
import tempfile
import time
from pathlib import Path

from ftstudio.bench.synthetic import write_mbox
from ftstudio.config import IngestLimits
from ftstudio.importing import import_paths, normalise_for_hash
from ftstudio.store import open_store


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


def bench_ingest(emails: int = 20_000) -> dict:
    with tempfile.TemporaryDirectory(prefix="ftstudio-bench-") as tmp:
        tmp = Path(tmp)
        mbox_path = write_mbox(tmp / "bench.mbox", emails)
        size_mb = mbox_path.stat().st_size / 1e6

        store = open_store(tmp / "studio.duckdb")
        project = store.create_project("bench", "classification")
        started = time.perf_counter()
        report = import_paths(store, project, [mbox_path], IngestLimits())
        studio_seconds = time.perf_counter() - started
        store.close()

        baseline_store = open_store(tmp / "baseline.duckdb")
        baseline_project = baseline_store.create_project("bench", "classification")
        started = time.perf_counter()
        baseline_imported, baseline_duplicates = _naive_import(baseline_store, baseline_project, mbox_path)
        baseline_seconds = time.perf_counter() - started
        baseline_store.close()

    return {
        "benchmark": "ingest",
        "emails": emails,
        "mbox_mb": round(size_mb, 1),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "studio_seconds": round(studio_seconds, 2),
        "studio_emails_per_second": round(emails / studio_seconds),
        "studio_imported": report.imported,
        "studio_duplicates": report.duplicates,
        "studio_skipped": len(report.errors),
        "baseline_seconds": round(baseline_seconds, 2),
        "baseline_emails_per_second": round(emails / baseline_seconds),
        "baseline_imported": baseline_imported,
        "baseline_duplicates": baseline_duplicates,
        "speedup": round(baseline_seconds / studio_seconds, 1),
        # Both must keep the same emails, or the speed-up measures a different job.
        "same_items": report.imported == baseline_imported and not report.errors,
    }
