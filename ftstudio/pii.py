"""Optional masking of personal data at import time.

Maskers are named so that an import can record exactly which ones it applied.
Add one by putting a `Masker` in `MASKERS`; the UI and CLI list them from there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Masker:
    name: str
    description: str
    pattern: re.Pattern
    replacement: str

    def mask(self, text: str) -> str:
        return self.pattern.sub(self.replacement, text)


MASKERS: dict[str, Masker] = {
    masker.name: masker
    for masker in (
        Masker(
            "email",
            "Email addresses become [EMAIL]",
            re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
            "[EMAIL]",
        ),
        Masker(
            "phone",
            "Phone numbers (7+ digits, with spaces, dots, dashes or brackets) become [PHONE]",
            # A leading + or (, then digit groups; at least 7 digits overall so that years and amounts survive.
            re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?![\w])"),
            "[PHONE]",
        ),
    )
}


_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def _looks_like_phone(candidate: str) -> bool:
    """7+ digits and not a date: a regex alone also matches 2024-03-14 and invoice amounts."""
    return sum(ch.isdigit() for ch in candidate) >= 7 and not _DATE.fullmatch(candidate.strip())


def check_masker_names(names: list[str] | tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in MASKERS]
    if unknown:
        raise ValueError(f"Unknown PII masker(s) {', '.join(unknown)}: choose from {', '.join(MASKERS)}.")


def mask_text(text: str, names: list[str] | tuple[str, ...]) -> str:
    """Apply the named maskers in order."""
    for name in names:
        masker = MASKERS[name]
        if name == "phone":
            text = masker.pattern.sub(
                lambda m: masker.replacement if _looks_like_phone(m.group(0)) else m.group(0), text
            )
        else:
            text = masker.mask(text)
    return text


def mask_value(value, names):
    """Mask strings anywhere inside JSON-like metadata."""
    if isinstance(value, str):
        return mask_text(value, names)
    if isinstance(value, list):
        return [mask_value(v, names) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(v, names) for k, v in value.items()}
    return value
