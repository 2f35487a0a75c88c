"""Turn the dates found in emails, exports and tables into ISO 8601 strings."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime

# Formats seen in spreadsheet and social-network exports that datetime.fromisoformat does not read.
# Month-first before day-first: US exports (LinkedIn, Twitter, Excel en-US) are the common case.
_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y, %I:%M %p",
    "%m/%d/%y, %I:%M %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%b %d, %Y",
    "%d %b %Y",
    "%a %b %d %H:%M:%S %z %Y",  # Twitter's created_at
)

# Epoch numbers outside 1990..2100 are more likely ids or counts than dates.
_EPOCH_MIN, _EPOCH_MAX = 631_152_000, 4_102_444_800


def to_iso(value: datetime) -> str:
    """ISO 8601; dates with a time zone are converted to UTC so that they sort as strings."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(timezone.utc)
    return value.isoformat()


def parse_email_date(value: str | None) -> str | None:
    """An RFC 2822 Date header as ISO 8601, or None when it cannot be read."""
    if not value:
        return None
    try:
        return to_iso(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_date(value: object) -> str | None:
    """A date from a table cell (text, number or datetime) as ISO 8601, or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch(float(value))
    text = str(value).strip()
    if not text:
        return None
    try:
        return to_iso(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return _from_epoch(float(text))
    except ValueError:
        pass
    for pattern in _FORMATS:
        try:
            return to_iso(datetime.strptime(text, pattern))
        except ValueError:
            continue
    return parse_email_date(text)


def _from_epoch(number: float) -> str | None:
    if math.isnan(number) or math.isinf(number):
        return None
    for scale in (1, 1_000, 1_000_000):  # seconds, milliseconds, microseconds
        seconds = number / scale
        if _EPOCH_MIN <= seconds <= _EPOCH_MAX:
            return to_iso(datetime.fromtimestamp(seconds, tz=timezone.utc))
    return None
