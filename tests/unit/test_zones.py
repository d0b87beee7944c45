"""Time zones (rules/zones.py): IANA names as tzdata lists them, wall-clock times as RFC 5545
reads them across DST, a day in a zone, and time at the calendar's ends: every date computation
answers or clamps, never raises."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.zones import EARLIEST, LATEST, instant_of, is_zone, local, local_day, shifted, zone

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "Pacific/Kiritimati", "Etc/GMT+12"]  # fmt: skip
# Zones with both DST changes (Sydney's are the other way round in the year).
DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney"]


def test_zone_names_are_tzdatas():
    assert all(is_zone(name) for name in ZONES)
    assert not is_zone("localtime") and not is_zone("Europe") and not is_zone(None)
    with pytest.raises(ValueError, match="^recurrence.timezone"):
        zone("Nowhere/Special", "recurrence.timezone")


def test_dst_gap_moves_forward_and_overlap_takes_the_first():
    berlin, new_york = zone("Europe/Berlin"), zone("America/New_York")
    # 2026-03-29 02:30 does not exist in Berlin (02:00 -> 03:00): 03:30 CEST = 01:30Z
    assert instant_of(datetime(2026, 3, 29, 2, 30), berlin) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    # 2026-10-25 02:30 happens twice in Berlin: the first (CEST, +02:00) = 00:30Z
    assert instant_of(datetime(2026, 10, 25, 2, 30), berlin) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    # New York: 2026-03-08 02:30 -> 03:30 EDT = 07:30Z; 2026-11-01 01:30 EDT (first) = 05:30Z
    assert instant_of(datetime(2026, 3, 8, 2, 30), new_york) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )
    assert instant_of(datetime(2026, 11, 1, 1, 30), new_york) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


instants = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)
spans = st.timedeltas(min_value=-timedelta(days=3_000_000), max_value=timedelta(days=3_000_000))


@given(instants, st.sampled_from(ZONES))
def test_a_day_in_a_zone_never_raises(instant, name):
    day = local_day(instant, zone(name))
    assert date.min <= day <= date.max
    assert abs((day - instant.date()).days) <= 1


@given(instants, spans)
def test_shifting_clamps_at_the_ends(instant, span):
    moved = shifted(instant, span)
    assert EARLIEST <= moved <= LATEST
    if EARLIEST + timedelta(days=3_000_001) < instant < LATEST - timedelta(days=3_000_001):
        assert moved == instant + span


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
    st.sampled_from(ZONES),
)
def test_a_wall_time_is_an_instant_or_none(wall, name):
    start = instant_of(wall, zone(name))
    assert start is None or EARLIEST <= start <= LATEST


def _offsets(where, day: date) -> set[timedelta]:
    """The UTC offsets in force at some instant of `day` in `where`, read hour by hour from UTC
    instants (the other direction from `instant_of`'s wall clock to instant)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    found = set()
    for hour in range(-24, 48):
        wall = local(midnight + timedelta(hours=hour), where)
        if wall is not None and wall.date() == day and wall.utcoffset() is not None:
            found.add(wall.utcoffset())
    return found


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    st.integers(min_value=0, max_value=24 * 60 - 1),
    st.sampled_from(DST_ZONES),
)
def test_a_wall_time_is_read_as_rfc_5545_says_across_dst(day, minute, name):
    # GIVEN a wall-clock time on a day of a zone with DST
    where = zone(name)
    wall = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)

    # WHEN it is turned into an instant
    start = instant_of(wall, where)

    # THEN, computed apart from it: the wall time at each offset of that day, kept where the
    # instant shows that wall time in the zone...
    offsets = _offsets(where, day)
    candidates = [wall.replace(tzinfo=UTC) - offset for offset in offsets]
    showing = sorted(c for c in candidates if local(c, where).replace(tzinfo=None) == wall)
    if showing:
        # ...it is the first of them (a fall-back time happens twice)
        assert start == showing[0]
    else:
        # ...or, in a spring-forward gap, it is read at the offset before the change (the
        # smaller), i.e. moved forward by the gap
        assert start == wall.replace(tzinfo=UTC) - min(offsets)
