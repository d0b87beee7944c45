"""RFC 3339 instants, stored as fixed-width UTC strings.

The availabilities' `startTime` is a DynamoDB sort key, so its string order must be time
order: every stored time is UTC with exactly three fractional digits, the form JavaScript's
`toISOString()` produces (`2030-01-01T09:00:00.000Z`). Inputs may carry any offset and any
precision; they are compared as instants, never as strings.
"""

import re
from datetime import UTC, datetime, timedelta

INVALID = "must be an RFC 3339 timestamp, e.g. 2030-01-01T09:00:00Z"
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<fraction>\d+))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)

# Availabilities and meetings expire (DynamoDB TTL) this long after they end or start.
RETENTION = timedelta(hours=48)


def parse_time(value: str) -> datetime:
    """Parses an RFC 3339 timestamp into an aware UTC datetime, truncated to milliseconds.

    Raises ValueError for anything else (no offset, missing seconds, ISO basic format...).
    """
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(INVALID)
    fraction = (match["fraction"] or "")[:3].ljust(3, "0")
    offset = "+00:00" if match["offset"] in "Zz" else match["offset"]
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}{offset}")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as error:  # 2030-02-30, or before year 1 in UTC
        raise ValueError(INVALID) from error


def parse_stored(value: str) -> datetime:
    """A time this code stored (always the fixed-width UTC form): no need to check it again."""
    return datetime.fromisoformat(value)


def format_time(instant: datetime) -> str:
    """The fixed-width UTC form, e.g. `2030-01-01T09:00:00.000Z`."""
    t = instant.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond // 1000:03d}Z"
    )


def expiration(instant: datetime) -> int:
    """Epoch seconds at which DynamoDB's TTL may remove an item tied to `instant`."""
    return int((instant + RETENTION).timestamp())


def now() -> datetime:
    return datetime.now(UTC)
