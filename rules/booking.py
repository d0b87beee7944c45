"""Booking rules, as pure functions (no tables, no clock: "now" is an argument): an
availability's window, a game's start in it (not past, a type offered), the notice it needs,
joining a group session, when a canceled meeting's slot opens again, and the day a coach's
daily limit counts a meeting on (contract v4, docs/recurrence.md "Booking rules").

A booking (handlers/availability/book.py) and a reschedule (handlers/meeting/reschedule.py)
apply the same rules, in the same order, through these functions. The records are read through
small protocols (`Slot`, `Coach`): an Availability and an OwnUser (database/models.py) fit them,
and nothing here imports the layer that defines them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from rules.cohorts import check_admitted
from rules.errors import Conflict, Invalid
from rules.zones import DEFAULT_ZONE, is_zone, local_day, zone

IN_THE_PAST = "startTime is in the past"
STARTED = "This session has already started"
DAY_FULL = "The coach takes no more bookings that day"
OUTSIDE_THE_WINDOW = "startTime must be within the availability's window"
NOT_OFFERED = "type is not offered by this availability"
NOT_THE_SESSIONS_START = "startTime must be the session's startTime"
NOT_OFFERED_IN_SESSION = "type is not offered by this session"
# The longest window an availability may have. It bounds the calendar's read of the bookable
# availabilities not ended by its start: SearchIndex orders by startTime, so those are the ones
# starting at most this long before it (database/availabilities.bookable_query).
MAX_WINDOW = timedelta(days=7)
WINDOW_TOO_LONG = "endTime must be at most 7 days after startTime"
NOT_BEFORE_END = "startTime must be before endTime"


class Slot(Protocol):
    """What the rules read of an availability (database.models.Availability fits)."""

    @property
    def startTime(self) -> datetime: ...
    @property
    def endTime(self) -> datetime: ...
    @property
    def types(self) -> Sequence[str]: ...
    @property
    def cohorts(self) -> Sequence[str]: ...
    @property
    def minNoticeMinutes(self) -> int: ...


class Coach(Protocol):
    """What the daily limit reads of the availability's owner (database.models.OwnUser fits)."""

    @property
    def username(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def maxBookingsPerDay(self) -> int: ...


def check_window(start: datetime, end: datetime) -> None:
    """An availability's window: `start` before `end`, at most MAX_WINDOW apart."""
    if start >= end:
        raise Invalid(NOT_BEFORE_END)
    if end - start > MAX_WINDOW:
        raise Invalid(WINDOW_TOO_LONG)


def check_start(slot: Slot, start: datetime, kind: str, at: datetime) -> None:
    """A one-to-one game of `kind` starting at `start`, booked at `at`: not in the past, within
    the slot's window (its ends included), of a type it offers. Invalid otherwise."""
    if start < at:
        raise Invalid(IN_THE_PAST)
    if not slot.startTime <= start <= slot.endTime:
        raise Invalid(OUTSIDE_THE_WINDOW)
    if kind not in slot.types:
        raise Invalid(NOT_OFFERED)


def check_notice(slot: Slot, start: datetime, at: datetime) -> None:
    """Booked (or joined) at `at`, a game starting at `start` leaves the slot its notice;
    Conflict saying how much is needed otherwise."""
    refusal = notice_refusal(start, at, slot.minNoticeMinutes)
    if refusal is not None:
        raise Conflict(refusal)


def check_join(
    session: Slot, start: datetime | None, kind: str | None, cohort: str, at: datetime
) -> None:
    """Joining the group session at `at`, by a player of `cohort`: a start or a type the client
    names anyway must be the session's own (Invalid); the session must admit the cohort
    (Invalid), must not have started, and must leave its notice (Conflict)."""
    if start not in (None, session.startTime):
        raise Invalid(NOT_THE_SESSIONS_START)
    if kind is not None and kind not in session.types:
        raise Invalid(NOT_OFFERED_IN_SESSION)
    check_admitted(session.cohorts, cohort, "session")
    if session.startTime <= at:
        raise Conflict(STARTED)
    check_notice(session, session.startTime, at)


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


def reopens(by: str, participant: str, window_end: datetime | None, at: datetime) -> bool:
    """Whether canceling a one-to-one meeting `by` a member at `at` opens its slot again: the
    participant gives it back while its window lasts (a version 1 meeting kept no window: None);
    the owner canceling says they cannot play, so nothing reopens."""
    return by == participant and window_end is not None and at < window_end


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


def coach_limit(coach: Coach | None, start: datetime) -> DailyLimit | None:
    """The coach's daily limit a meeting starting at `start` counts against (None: they set
    none, or have no profile)."""
    if coach is None:
        return None
    return daily_limit(coach.username, start, coach.timezone, coach.maxBookingsPerDay)
