"""Contract v4, "Time zones": `timezone` (and a coach's `maxBookingsPerDay`) on the user, and
time at the calendar's ends: every date computation answers or clamps, never raises."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from database.zones import EARLIEST, LATEST, instant_of, is_zone, local_day, shifted, zone
from handlers.calendar import get as get_calendar
from handlers.user import get as get_user
from handlers.user import set as set_user
from support import add_user, body, http_event, snapshot

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "Pacific/Kiritimati", "Etc/GMT+12"]  # fmt: skip


def put_user(changes: dict) -> dict:
    return set_user.handler(http_event("PUT /user", body=changes), None)


def test_timezone_defaults_to_utc_and_is_set_by_put_user(tables):
    add_user(tables, "alice")
    assert body(get_user.handler(http_event("GET /user"), None))["timezone"] == "UTC"

    response = put_user({"timezone": "Europe/Berlin", "maxBookingsPerDay": 3})

    assert response["statusCode"] == 200
    assert body(response)["timezone"] == "Europe/Berlin"
    assert body(response)["maxBookingsPerDay"] == 3
    shown = body(get_user.handler(http_event("GET /user"), None))
    assert (shown["timezone"], shown["maxBookingsPerDay"]) == ("Europe/Berlin", 3)
    # the public profile shows neither
    public = get_user.handler(
        http_event("GET /public/user/{username}", caller=None, path={"username": "alice"}), None
    )
    assert "timezone" not in body(public) and "maxBookingsPerDay" not in body(public)


@pytest.mark.parametrize(
    "bad",
    ["Mars/Olympus_Mons", "europe/berlin", "", "../../etc/passwd", "Europe/Berlin\x00",
     "America", "localtime", "+02:00", "x" * 65, 5, True, ["UTC"]],
)  # fmt: skip
def test_a_timezone_that_is_no_iana_name_is_a_400_changing_nothing(tables, bad):
    add_user(tables, "alice")
    before = snapshot(tables)

    response = put_user({"timezone": bad, "dojoCohort": "0-400"})

    assert response["statusCode"] == 400
    assert body(response)["message"].startswith("timezone")
    assert snapshot(tables) == before


@pytest.mark.parametrize("bad", [-1, 51, 2.5, "3", False])
def test_max_bookings_per_day_is_0_to_50(tables, bad):
    add_user(tables, "alice")
    before = snapshot(tables)
    response = put_user({"maxBookingsPerDay": bad})
    assert response["statusCode"] == 400
    assert body(response)["message"].startswith("maxBookingsPerDay")
    assert snapshot(tables) == before


@pytest.mark.parametrize(
    "start", ["0001-01-01T00:00:00Z", "0001-01-07T23:59:59Z", "9998-12-31T23:59:59.999Z"]
)
def test_the_calendar_at_the_ends_of_time(tables, start):
    # The first one was a 500: an OverflowError in bookable_query's `since - MAX_WINDOW`.
    add_user(tables, "alice")
    response = get_calendar.handler(http_event("GET /calendar", query={"startTime": start}), None)
    assert response["statusCode"] == 200, response["body"]


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
