"""Contract v4, "Time zones": `timezone` (and a coach's `maxBookingsPerDay`) on the user, and
the calendar at the ends of time. The zone rules themselves (rules/zones.py) are unit-tested
in tests/unit/test_zones.py."""

import pytest

from handlers.calendar import get as get_calendar
from handlers.user import get as get_user
from handlers.user import set as set_user
from support import add_user, body, http_event, snapshot


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
