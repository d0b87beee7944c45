"""Booking rules (rules/booking.py), without tables: an availability's window, a game's start in
it, the notice boundary, joining a group session, when a slot reopens, and the day a coach's
daily limit counts a meeting on, in the coach's zone across DST."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rules.booking import (
    IN_THE_PAST,
    MAX_WINDOW,
    NOT_BEFORE_END,
    NOT_OFFERED,
    NOT_OFFERED_IN_SESSION,
    NOT_THE_SESSIONS_START,
    OUTSIDE_THE_WINDOW,
    STARTED,
    WINDOW_TOO_LONG,
    check_join,
    check_notice,
    check_start,
    check_window,
    coach_limit,
    daily_limit,
    notice_refusal,
    reopens,
)
from rules.errors import Conflict, Invalid
from rules.zones import instant_of, zone

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)
MS = timedelta(milliseconds=1)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
spans = st.timedeltas(min_value=-timedelta(days=10), max_value=timedelta(days=10))


@dataclass
class Slot:
    """An availability as the rules read it (database.models.Availability's fields)."""

    startTime: datetime = T0
    endTime: datetime = T0 + timedelta(hours=2)
    types: list[str] = field(default_factory=lambda: ["CLASSICAL_GAME"])
    cohorts: list[str] = field(default_factory=lambda: ["ALL_COHORTS"])
    minNoticeMinutes: int = 0


@dataclass
class Coach:
    username: str = "alice"
    timezone: str = "UTC"
    maxBookingsPerDay: int = 0


def refused(kind: type[Exception], call, *args) -> str | None:
    """The message of the `kind` refusal `call(*args)` raises (None: it passes)."""
    try:
        call(*args)
    except kind as error:
        return getattr(error, "message", str(error))
    return None


# An availability's window


@given(instants, spans)
@example(T0, MAX_WINDOW)
@example(T0, MAX_WINDOW + MS)
@example(T0, timedelta(0))
def test_a_window_starts_before_it_ends_and_lasts_at_most_7_days(start, length):
    message = refused(Invalid, check_window, start, start + length)
    if length <= timedelta(0):
        assert message == NOT_BEFORE_END
    elif length > MAX_WINDOW:
        assert message == WINDOW_TOO_LONG
    else:
        assert message is None


# A one-to-one game's start


@given(spans, spans)
@example(timedelta(0), timedelta(0))  # at the window's opening, booked that very instant
@example(timedelta(hours=2), timedelta(0))  # at its close
@example(timedelta(hours=2) + MS, timedelta(0))
@example(-MS, -timedelta(hours=1))
@example(timedelta(minutes=30), timedelta(minutes=30) + MS)  # a moment in the past
def test_a_start_is_not_past_and_within_the_window_ends_included(offset, booked_at):
    slot = Slot()
    start, at = T0 + offset, T0 + booked_at
    message = refused(Invalid, check_start, slot, start, "CLASSICAL_GAME", at)
    if start < at:  # the past comes first
        assert message == IN_THE_PAST
    elif not slot.startTime <= start <= slot.endTime:
        assert message == OUTSIDE_THE_WINDOW
    else:
        assert message is None


def test_a_type_the_slot_does_not_offer_is_refused():
    assert refused(Invalid, check_start, Slot(), T0, "BOOK_STUDY", T0) == NOT_OFFERED
    assert refused(Invalid, check_start, Slot(types=["BOOK_STUDY"]), T0, "BOOK_STUDY", T0) is None


# Notice


@given(
    st.integers(min_value=0, max_value=43200),
    st.timedeltas(min_value=-timedelta(days=31), max_value=timedelta(days=31)),
)
@example(60, timedelta(minutes=60))  # exactly the notice: in time
@example(60, timedelta(minutes=60) - MS)  # a millisecond short
@example(0, -timedelta(days=1))  # no notice asked
def test_the_notice_boundary(minutes, ahead):
    message = refused(Conflict, check_notice, Slot(minNoticeMinutes=minutes), T0 + ahead, T0)
    if minutes > 0 and ahead < timedelta(minutes=minutes):
        assert message == notice_refusal(T0 + ahead, T0, minutes)
        assert message is not None and message.startswith("This availability must be booked")
    else:
        assert message is None


@pytest.mark.parametrize(
    "minutes, said",
    [(1, "1 minute "), (45, "45 minutes"), (60, "1 hour "), (120, "2 hours"),
     (1440, "1 day "), (4320, "3 days"), (90, "90 minutes")],
)  # fmt: skip
def test_a_notice_refusal_says_how_much_is_needed(minutes, said):
    assert said in (notice_refusal(T0, T0, minutes) or "") + " "


# Joining a group session


@given(spans, st.integers(min_value=0, max_value=600))
@example(timedelta(0), 0)  # the session starts now: started
@example(MS, 0)
@example(timedelta(minutes=30), 30)
@example(timedelta(minutes=30) - MS, 30)
def test_a_session_is_joined_before_it_starts_with_its_notice(ahead, minutes):
    session = Slot(startTime=T0 + ahead, endTime=T0 + ahead + MAX_WINDOW, minNoticeMinutes=minutes)
    message = refused(Conflict, check_join, session, None, None, "", T0)
    if ahead <= timedelta(0):
        assert message == STARTED
    elif ahead < timedelta(minutes=minutes):
        assert message == notice_refusal(session.startTime, T0, minutes)
    else:
        assert message is None


def test_a_join_names_the_sessions_own_start_and_types_and_admits_the_cohort():
    session = Slot(startTime=T0 + timedelta(days=1), cohorts=["1500-1600"])
    later = session.startTime + MS
    assert refused(Invalid, check_join, session, later, None, "1500-1600", T0) == (
        NOT_THE_SESSIONS_START
    )
    assert refused(Invalid, check_join, session, None, "BOOK_STUDY", "1500-1600", T0) == (
        NOT_OFFERED_IN_SESSION
    )
    assert refused(Invalid, check_join, session, None, None, "0-400", T0) == (
        "Your cohort is not accepted by this session"
    )
    check_join(session, session.startTime, "CLASSICAL_GAME", "1500-1600", T0)


# A canceled meeting's slot


@given(st.sampled_from(["bob", "alice"]), st.none() | spans, spans)
@example("bob", timedelta(0), timedelta(0))  # the window ends now: over
def test_only_the_participants_cancel_reopens_and_only_while_the_window_lasts(by, end, at):
    window_end = None if end is None else T0 + end
    expected = by == "bob" and window_end is not None and T0 + at < window_end
    assert reopens(by, "bob", window_end, T0 + at) == expected


# The coach's daily limit: the coach's own day, across DST

DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago"]
# The days of each zone's changes in 2030, and the days either side.
CHANGES = {
    "Europe/Berlin": [date(2030, 3, 31), date(2030, 10, 27)],
    "America/New_York": [date(2030, 3, 10), date(2030, 11, 3)],
    "Australia/Sydney": [date(2030, 4, 7), date(2030, 10, 6)],
    "America/Santiago": [date(2030, 4, 7), date(2030, 9, 8)],
}
around_changes = st.sampled_from(
    [(name, day + timedelta(days=d)) for name, days in CHANGES.items() for day in days
     for d in (-1, 0, 1)]
)  # fmt: skip


@given(
    around_changes
    | st.tuples(st.sampled_from(DST_ZONES), st.dates(date(2026, 1, 1), date(2035, 1, 1))),
    st.integers(min_value=0, max_value=24 * 60 - 1),
)
@example(("Europe/Berlin", date(2030, 10, 27)), 2 * 60 + 30)  # happens twice
@example(("Europe/Berlin", date(2030, 3, 31)), 2 * 60 + 30)  # does not exist
@example(("America/New_York", date(2030, 11, 3)), 23 * 60 + 59)  # 04:59Z the next day
@example(("America/Santiago", date(2030, 9, 8)), 0)  # midnight falls in the gap
def test_a_meeting_counts_on_the_coachs_own_day_across_dst(zone_and_day, minute):
    # GIVEN a coach in a zone with DST, and a meeting at a wall-clock time of theirs on `day`
    name, day = zone_and_day
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    start = instant_of(wall, zone(name))
    assert start is not None

    # WHEN the daily limit it counts against is found
    limit = daily_limit("alice", start, name, 3)

    # THEN it is that day of the coach's (a time in a gap moves forward within it), whatever
    # the day in UTC
    assert limit is not None and limit.limit == 3
    assert limit.key == f"day#alice#{day.isoformat()}"
    assert coach_limit(Coach(timezone=name, maxBookingsPerDay=3), start) == limit


def test_both_meetings_of_a_repeated_hour_count_on_one_day():
    berlin = zone("Europe/Berlin")
    first = instant_of(datetime(2030, 10, 27, 2, 30), berlin)  # 00:30Z, CEST
    assert first is not None
    second = first + timedelta(hours=1)  # 01:30Z, 02:30 CET: the same wall time again
    assert daily_limit("a", first, "Europe/Berlin", 1) == daily_limit(
        "a", second, "Europe/Berlin", 1
    )


def test_no_limit_no_profile_or_an_unknown_zone():
    assert daily_limit("alice", T0, "Europe/Berlin", 0) is None
    assert coach_limit(None, T0) is None
    assert coach_limit(Coach(maxBookingsPerDay=0), T0) is None
    # a zone tzdata no longer knows counts in UTC
    late = datetime(2030, 7, 1, 23, 30, tzinfo=UTC)
    assert daily_limit("alice", late, "Mars/Olympus", 1) == daily_limit("alice", late, "UTC", 1)


def test_notice_rule():
    start = datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert notice_refusal(start, start - timedelta(minutes=60), 60) is None
    assert notice_refusal(start, start - timedelta(minutes=59), 60) is not None
    assert notice_refusal(start, start, 0) is None
    assert "3 days" in notice_refusal(start, start, 4320)
    assert "1 minute " in notice_refusal(start, start, 1)


def test_the_day_is_the_coachs_own():
    late = datetime(2030, 7, 1, 22, 30, tzinfo=UTC)  # 00:30 on July 2nd in Berlin
    assert daily_limit("alice", late, "Europe/Berlin", 2).key == "day#alice#2030-07-02"
    assert daily_limit("alice", late, "America/New_York", 2).key == "day#alice#2030-07-01"
    assert daily_limit("alice", late, "UTC", 0) is None  # no limit, no item
    # the calendar's ends: a day, never an OverflowError
    first = datetime(1, 1, 1, tzinfo=UTC)
    assert daily_limit("a", first, "America/New_York", 1).key == "day#a#0001-01-01"
    last = datetime(9999, 12, 31, 23, tzinfo=UTC)
    assert daily_limit("a", last, "Asia/Kolkata", 1).key == "day#a#9999-12-31"
