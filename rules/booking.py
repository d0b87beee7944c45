"""Booking rules of contract v4, as pure functions (no tables): past starts, notice, and the day
a coach's daily limit counts a meeting on.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.zones import DEFAULT_ZONE, is_zone, local_day, zone

IN_THE_PAST = "startTime is in the past"
STARTED = "This session has already started"
DAY_FULL = "The coach takes no more bookings that day"


def notice_refusal(start: datetime, at: datetime, minutes: int) -> str | None:
    """Why a booking at `at` of a game starting at `start` is too late for an availability
    needing `minutes` of notice (None: it is not)."""
    if minutes <= 0 or start - at >= timedelta(minutes=minutes):
        return None
    return f"This availability must be booked at least {_span(minutes)} before it starts"


def _span(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day{'s' * (days != 1)}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{minutes} minute{'s' * (minutes != 1)}"


@dataclass(frozen=True)
class DailyLimit:
    """A coach's limit of one-to-one meetings on one day of theirs: the meetings-table item
    that counts them (`key`), and how many it may hold."""

    key: str
    limit: int


def daily_limit(owner: str, start: datetime, zone_name: str, limit: int) -> DailyLimit | None:
    """The limit a meeting of `owner` starting at `start` counts against: the day is the
    owner's own, in their zone (a zone tzdata no longer knows counts in UTC). None: no limit."""
    if limit <= 0:
        return None
    where = zone(zone_name if is_zone(zone_name) else DEFAULT_ZONE)
    return DailyLimit(f"day#{owner}#{local_day(start, where).isoformat()}", limit)
