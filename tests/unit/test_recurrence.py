"""rules.recurrence: RRULE validation and expansion, against an independent computation.

Pure rules, no moto: milliseconds a case. The independent computation walks the calendar day
by day (no dateutil), and turns a wall-clock time into an instant using only zoneinfo's
UTC-to-local conversion (which is unambiguous), never its local-to-UTC fold rule that the
code under test uses."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rules.errors import Invalid
from rules.recurrence import (
    HORIZON,
    MAX_LENGTH,
    MAX_UNTIL,
    TOO_LONG,
    check_length,
    horizon,
    occurrences,
    parse_rule,
)
from rules.zones import zone
from support import hypothesis_examples

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def independent_instant(wall: datetime, where) -> datetime:
    """RFC 5545's reading of a local time: the first of two, or moved forward by a gap."""
    naive = wall.replace(tzinfo=None)
    probe = naive.replace(tzinfo=UTC)
    before = (probe - timedelta(hours=30)).astimezone(where).utcoffset()
    after = (probe + timedelta(hours=30)).astimezone(where).utcoffset()
    valid = [
        candidate
        for offset in {before, after}
        if (candidate := probe - offset).astimezone(where).replace(tzinfo=None) == naive
    ]
    return min(valid) if valid else probe - before


def expected(first_wall, where, weekly, interval, days, count, until, upto):
    """Every occurrence start up to `upto`, walking the calendar one day at a time."""
    d0, clock = first_wall.date(), first_wall.time()
    week0 = d0 - timedelta(days=d0.weekday())  # RFC 5545's default week start: Monday
    found, day = [], d0
    while True:
        if weekly:
            included = DAYS[day.weekday()] in days and ((day - week0).days // 7) % interval == 0
        else:
            included = (day - d0).days % interval == 0
        if included:
            start = independent_instant(datetime.combine(day, clock), where)
            if (count and len(found) == count) or (until and start > until) or start > upto:
                return found
            found.append(start)
        day += timedelta(days=1)


def rule_text(weekly, interval, days, count, until):
    parts = [f"FREQ={'WEEKLY' if weekly else 'DAILY'}"]
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    if weekly and days:
        parts.append("BYDAY=" + ",".join(days))
    if count:
        parts.append(f"COUNT={count}")
    if until:
        parts.append("UNTIL=" + until.strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)


# Dates around both DST changes of each zone (northern and southern), any of the hours near them.
walls = st.builds(
    datetime.combine,
    st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
    st.builds(time, st.sampled_from([0, 1, 2, 3, 19, 23]), st.sampled_from([0, 15, 30, 59])),
)


@settings(max_examples=hypothesis_examples(300), deadline=None)
@given(
    wall=walls,
    name=st.sampled_from(ZONES),
    weekly=st.booleans(),
    interval=st.integers(1, 4),
    extra_days=st.sets(st.sampled_from(DAYS)),
    ending=st.sampled_from(["none", "count", "until"]),
    count=st.integers(1, 260),
    until_days=st.integers(0, 730),
    span_days=st.integers(0, 500),
    skip_days=st.integers(0, 400),
)
@example(  # Berlin's spring gap on the 2nd Tuesday, the fall overlap on the 32nd
    wall=datetime(2026, 3, 24, 2, 30), name="Europe/Berlin", weekly=True, interval=1,
    extra_days=set(), ending="none", count=1, until_days=0, span_days=250, skip_days=0,
)  # fmt: skip
def test_expansion_matches_an_independent_computation(
    wall, name, weekly, interval, extra_days, ending, count, until_days, span_days, skip_days
):
    where = zone(name)
    # The first start as a client would send it: the first occurrence's own instant.
    first = independent_instant(wall, where)
    first_wall = first.astimezone(where)
    days = tuple(d for d in DAYS if d in extra_days | {DAYS[first_wall.weekday()]})
    until = first + timedelta(days=until_days) if ending == "until" else None
    text = rule_text(
        weekly, interval, days if weekly else (), count if ending == "count" else None, until
    )
    rule = parse_rule(text, first, where)
    upto = first + timedelta(days=span_days)
    after = first + timedelta(days=skip_days) - timedelta(microseconds=1)

    want = expected(
        first_wall.replace(tzinfo=None), where, weekly, interval, days,
        rule.count, rule.until, upto,
    )  # fmt: skip
    got = occurrences(rule, where, first, after, upto)

    assert got == [start for start in want if start > after]
    # every occurrence at the first one's wall-clock time, unless a gap moved it forward
    for start in got:
        local = start.astimezone(where)
        assert (
            local.time() == first_wall.time()
            or independent_instant(datetime.combine(local.date(), first_wall.time()), where)
            == start
        )


def test_a_berlin_tuesday_1900_is_1800z_in_winter_and_1700z_in_summer():
    berlin = zone("Europe/Berlin")
    first = datetime(2026, 3, 17, 18, tzinfo=UTC)  # Tue 17 Mar 2026, 19:00 CET
    rule = parse_rule("FREQ=WEEKLY;BYDAY=TU;COUNT=34", first, berlin)
    starts = occurrences(
        rule, berlin, first, first - timedelta(seconds=1), first + timedelta(days=400)
    )
    assert len(starts) == 34
    assert starts[1] == datetime(2026, 3, 24, 18, tzinfo=UTC)  # still winter time
    assert starts[2] == datetime(2026, 3, 31, 17, tzinfo=UTC)  # summer time from Mar 29
    assert starts[32] == datetime(2026, 10, 27, 18, tzinfo=UTC)  # winter again from Oct 25
    assert {s.astimezone(berlin).strftime("%a %H:%M") for s in starts} == {"Tue 19:00"}


def test_gap_and_overlap_exact_times():
    new_york = zone("America/New_York")
    # daily at 02:30: Mar 8 2026 has no 02:30 (moved to 03:30 EDT = 07:30Z)
    first = datetime(2026, 3, 7, 7, 30, tzinfo=UTC)  # Mar 7, 02:30 EST
    starts = occurrences(parse_rule("FREQ=DAILY;COUNT=3", first, new_york), new_york, first,
                         first - timedelta(seconds=1), first + timedelta(days=5))  # fmt: skip
    assert starts == [
        first,
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 9, 6, 30, tzinfo=UTC),
    ]
    # daily at 01:30: Nov 1 2026 has two; the first (EDT, 05:30Z)
    first = datetime(2026, 10, 31, 5, 30, tzinfo=UTC)
    starts = occurrences(parse_rule("FREQ=DAILY;COUNT=3", first, new_york), new_york, first,
                         first - timedelta(seconds=1), first + timedelta(days=5))  # fmt: skip
    assert starts[1:] == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 6, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "text",
    ["", "FREQ=MONTHLY", "FREQ=HOURLY", "FREQ=DAILY;BYDAY=MO", "FREQ=WEEKLY;INTERVAL=5",
     "FREQ=WEEKLY;INTERVAL=0", "FREQ=WEEKLY;INTERVAL=-1", "FREQ=WEEKLY;INTERVAL=1.5",
     "FREQ=WEEKLY;COUNT=0", "FREQ=WEEKLY;COUNT=261", "FREQ=WEEKLY;COUNT=10;UNTIL=20300101T000000Z",
     "FREQ=WEEKLY;UNTIL=20300101", "FREQ=WEEKLY;UNTIL=20300230T000000Z",
     "FREQ=WEEKLY;UNTIL=20320601T000000Z", "FREQ=WEEKLY;UNTIL=20291231T000000Z",
     "FREQ=WEEKLY;BYDAY=TU,TU", "FREQ=WEEKLY;BYDAY=1TU", "FREQ=WEEKLY;BYDAY=WE",
     "FREQ=WEEKLY;FREQ=DAILY", "FREQ=WEEKLY;BYMONTH=1", "FREQ=WEEKLY;", "RRULE:FREQ=WEEKLY",
     "freq=weekly", "FREQ=WEEKLY;WKST=SU", "FREQ=WEEKLY;COUNT=" + "9" * 300, 7, None],
)  # fmt: skip
def test_rules_outside_the_contract_are_refused_naming_the_field(text):
    first = datetime(2030, 1, 1, 18, tzinfo=UTC)  # a Tuesday
    with pytest.raises(Invalid) as refused:
        parse_rule(text, first, zone("Europe/Berlin"))
    assert refused.value.message.startswith(("recurrence.rule", "startTime"))


def test_rules_the_contract_allows():
    first = datetime(2030, 1, 1, 18, tzinfo=UTC)  # Tuesday
    berlin = zone("Europe/Berlin")
    allowed = ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=10", "FREQ=WEEKLY;INTERVAL=4",
               "FREQ=DAILY;INTERVAL=2;UNTIL=20311231T000000Z", "FREQ=WEEKLY;COUNT=260"]  # fmt: skip
    for text in allowed:
        assert parse_rule(text, first, berlin).text == text


@settings(max_examples=hypothesis_examples(200), deadline=None)
@given(
    first=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    name=st.sampled_from([*ZONES, "Pacific/Kiritimati", "Etc/GMT+12"]),
    text=st.sampled_from(["FREQ=DAILY", "FREQ=WEEKLY;INTERVAL=3", "FREQ=DAILY;COUNT=260"]),
    ahead=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3_000_000)),
)
@example(
    first=datetime(9999, 12, 30, tzinfo=UTC),
    name="Pacific/Kiritimati",
    text="FREQ=DAILY",
    ahead=timedelta(0),
)
@example(
    first=datetime(1, 1, 2, tzinfo=UTC),
    name="Etc/GMT+12",
    text="FREQ=DAILY",
    ahead=timedelta(days=3_000_000),
)
def test_expansion_at_the_ends_of_the_calendar_never_raises(first, name, text, ahead):
    where = zone(name)
    try:
        rule = parse_rule(text, first, where)
    except Invalid:
        return  # a 400: the first start's wall-clock time is off the calendar in that zone
    now = first + min(ahead, datetime.max.replace(tzinfo=UTC) - first)
    starts = occurrences(rule, where, first, now, horizon(now))
    assert len(starts) <= 29  # one a day at most, within the horizon
    assert all(now < start <= horizon(now) for start in starts)


def test_an_old_unbounded_series_costs_no_more_than_a_new_one():
    # 8000 years of a daily rule: the anchor moves forward, the expansion reads ~2 periods
    berlin = zone("Europe/Berlin")
    first = datetime(1000, 1, 1, 12, tzinfo=UTC)
    rule = parse_rule("FREQ=DAILY", first, berlin)
    now = datetime(9000, 6, 1, tzinfo=UTC)
    starts = occurrences(rule, berlin, first, now, now + HORIZON)
    assert len(starts) == 28
    assert timedelta(days=730) < MAX_UNTIL


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.timedeltas(min_value=timedelta(milliseconds=1), max_value=MAX_LENGTH * 2),
)
@example(datetime(2030, 1, 1, tzinfo=UTC), MAX_LENGTH)
@example(datetime(2030, 1, 1, tzinfo=UTC), MAX_LENGTH + timedelta(milliseconds=1))
def test_an_occurrence_is_at_most_24_hours_long(start, length):
    if length <= MAX_LENGTH:
        check_length(start, start + length)
    else:
        with pytest.raises(Invalid, match=f"^{TOO_LONG}$"):
            check_length(start, start + length)
