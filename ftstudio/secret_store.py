"""API keys a user typed into the studio, kept in FTSTUDIO_HOME/secrets.json, readable by the owner only.

A key saved here is used when no environment variable gives one; it is never shown again, logged, or
written into an export (the UI says only whether a key is saved).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

JUDGE_KEY = "judge_api_key"


def _path(home: Path) -> Path:
    return Path(home) / "secrets.json"


def _read(home: Path) -> dict:
    path = _path(home)
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def load_secret(home: Path | None, name: str) -> str | None:
    return _read(home).get(name) if home is not None else None


def save_secret(home: Path, name: str, value: str | None) -> None:
    """Save (or, with an empty value, forget) a secret; the file is created with mode 0600."""
    values = _read(home)
    if value and value.strip():
        values[name] = value.strip()
    else:
        values.pop(name, None)
    path = _path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle)
    os.replace(staging, path)
