"""getCalendar: the caller's availabilities, meetings and joined sessions, and the others'
availabilities the caller can book, paged together, each exactly once, read with a GetItem,
Queries and a BatchGetItem only (never a Scan)."""

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from database.models import AVAILABILITY_TYPES
from handlers.availability import book
from handlers.availability import get as get_availability
from handlers.availability import set as set_availability
from handlers.calendar import get as get_calendar
from handlers.meeting import cancel
from support import add_user, availability, body, http_event, hypothesis_examples, uuid
from support import publish as store

SINCE = "2030-01-01T00:00:00Z"
NAMES: dict[str, str] = {}  # id -> the name a test gave it


def publish(client, owner, name, day="2030-01-02", **fields):
    """`owner`'s availability `name` (its id: uuid(name)) on `day`, open to all cohorts."""
    start, end = f"{day}T09:00:00Z", f"{day}T12:00:00Z"
    fixed = {"owner": owner, "id": uuid(name), "startTime": start, "endTime": end}
    store(client, availability(**fixed | {"cohorts": ["ALL_COHORTS"]} | fields))
    NAMES[uuid(name)] = name


def named(availability_or_meeting: dict) -> str:
    """The fixture name of a returned availability's or meeting's id."""
    return NAMES[availability_or_meeting["id"]]


def book_as(caller, owner, name, day="2030-01-02"):
    booking = {"owner": owner, "id": uuid(name)}
    if not name.startswith("group"):
        booking |= {"startTime": f"{day}T10:00:00Z", "type": "CLASSICAL_GAME"}
    event = http_event("PUT /availability/book", caller=caller, body=booking)
    assert book.handler(event, None)["statusCode"] == 200


def calendar_as(caller, **query):
    event = http_event("GET /calendar", caller=caller, query=query or None)
    return get_calendar.handler(event, None)


def everything(caller, limit, **query):
    """Every page of the caller's calendar: (availability ids, meeting ids, pages)."""
    availabilities, meetings, pages, key = [], [], 0, None
    while True:
        params = {"limit": str(limit), **query, **({"startKey": key} if key else {})}
        response = calendar_as(caller, **params)
        assert response["statusCode"] == 200, response
        page = body(response)
        assert len(page["availabilities"]) + len(page["meetings"]) <= limit
        availabilities += [named(a) for a in page["availabilities"]]
        meetings += [named(m) for m in page["meetings"]]
        pages += 1
        key = page.get("lastEvaluatedKey")
        if key is None:
            return availabilities, meetings, pages


@pytest.fixture
def club(tables, built_once):
    built_once(bobs_club)
    return tables


def bobs_club(tables):
    """bob's calendar from 2030-01-01: his open a-bob and group session group-bob, the meeting
    m-alice he booked from alice, the meeting m-bob carol booked from him, alice's group session
    group-alice he joined; plus what is not his, and what is before the calendar's start."""
    for name in ("alice", "bob", "carol"):
        add_user(tables, name)
    publish(tables, "bob", "a-bob")
    publish(tables, "bob", "group-bob", maxParticipants=4)
    publish(tables, "bob", "old-bob", day="2029-12-30")
    publish(tables, "alice", "m-alice")
    book_as("bob", "alice", "m-alice")
    publish(tables, "bob", "m-bob")
    book_as("carol", "bob", "m-bob")
    publish(tables, "alice", "group-alice", maxParticipants=3)
    book_as("bob", "alice", "group-alice")
    publish(tables, "alice", "group-left", maxParticipants=3)
    book_as("bob", "alice", "group-left")
    left = http_event("PUT /meeting/cancel/{id}", caller="bob", path={"id": uuid("group-left")})
    assert cancel.handler(left, None)["statusCode"] == 200
    publish(tables, "alice", "not-bobs")


BOBS_AVAILABILITIES = {"a-bob", "group-bob", "group-alice"}
BOBS_MEETINGS = {"m-alice", "m-bob"}
# Open, for all cohorts, not his: alice's availability and the session bob left.
BOOKABLE_BY_BOB = {"not-bobs", "group-left"}


def test_the_calendar_holds_everything_of_the_callers_from_the_start(club):
    response = calendar_as("bob", startTime=SINCE)

    assert response["statusCode"] == 200
    page = body(response)
    assert {named(a) for a in page["availabilities"]} == BOBS_AVAILABILITIES | BOOKABLE_BY_BOB
    assert {named(m) for m in page["meetings"]} == BOBS_MEETINGS
    assert "lastEvaluatedKey" not in page
    joined = next(a for a in page["availabilities"] if named(a) == "group-alice")
    assert [p["username"] for p in joined["participants"]] == ["bob"]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 100])
def test_paging_returns_each_item_exactly_once(club, limit):
    availabilities, meetings, pages = everything("bob", limit, startTime=SINCE)

    assert sorted(availabilities) == sorted(BOBS_AVAILABILITIES | BOOKABLE_BY_BOB)
    assert sorted(meetings) == sorted(BOBS_MEETINGS)
    assert pages >= 7 // limit


def test_a_canceled_session_stays_on_every_members_calendar(club):
    owner_cancels = http_event(
        "PUT /meeting/cancel/{id}", caller="alice", path={"id": uuid("group-alice")}
    )
    cancel.handler(owner_cancels, None)

    for member in ("alice", "bob"):
        page = body(calendar_as(member, startTime=SINCE))
        statuses = {named(a): a["status"] for a in page["availabilities"]}
        assert statuses["group-alice"] == "CANCELED"


def test_canceled_meetings_stay_on_both_calendars(club):
    event = http_event("PUT /meeting/cancel/{id}", caller="alice", path={"id": uuid("m-alice")})
    cancel.handler(event, None)

    for member in ("alice", "bob"):
        page = body(calendar_as(member, startTime=SINCE))
        assert {named(m): m["status"] for m in page["meetings"]}["m-alice"] == "CANCELED"


def test_the_default_start_is_a_day_ago(club):
    page = body(calendar_as("bob"))  # today is long before 2029-12-30

    assert "old-bob" in {named(a) for a in page["availabilities"]}


def test_the_calendar_never_scans(club):
    calls = []
    club.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    everything("bob", 2, startTime=SINCE)

    assert calls
    assert set(calls) <= {"GetItem", "Query", "BatchGetItem"}


@pytest.mark.parametrize(
    "query",
    [
        {"startTime": "yesterday"},
        {"limit": "0"},
        {"limit": "101"},
        {"startKey": "bm9wZQ"},
        {"startKey": "!"},
    ],
)
def test_bad_parameters_are_400(club, query):
    response = calendar_as("bob", **query)

    assert response["statusCode"] == 400
    assert body(response)["code"] == 400


def test_another_players_key_is_400(club):
    first = body(calendar_as("bob", startTime=SINCE, limit="1"))

    response = calendar_as("carol", startTime=SINCE, startKey=first["lastEvaluatedKey"])

    assert response["statusCode"] == 400
    assert "startKey" in body(response)["message"]


def test_the_calendar_needs_a_caller(club):
    event = http_event("GET /calendar", caller=None)

    assert get_calendar.handler(event, None)["statusCode"] == 401


# --- The bookable availabilities of others (contract version 3) ---


def search_as(caller, **query):
    event = http_event("GET /availability", caller=caller, query={"byTime": "1", **query})
    response = get_availability.handler(event, None)
    assert response["statusCode"] == 200, response
    return {named(a) for a in body(response)["availabilities"]}


def bookable(caller, **query):
    """The ids on the caller's calendar that are not the caller's own or joined."""
    page = body(calendar_as(caller, **query))
    return {
        named(a)
        for a in page["availabilities"]
        if a["owner"] != caller and caller not in [p["username"] for p in a["participants"]]
    }


def publish_for(owner, name, cohorts, day="2030-01-02", **fields):
    publish(_client(), owner, name, day=day, **{"cohorts": cohorts, **fields})


def _client():
    from database.client import dynamodb

    return dynamodb()


@pytest.fixture
def market(tables, built_once):
    built_once(demos_market)
    return tables


def demos_market(tables):
    """demo (1200-1300) and what others offer from 2030-01-01: four open availabilities that
    admit demo's cohort, and everything a calendar must not offer demo."""
    add_user(tables, "demo", cohort="1200-1300")
    for name in ("anna", "boris", "carla", "dave"):
        add_user(tables, name, cohort="1500-1600")
    # the four demo can book
    publish_for("anna", "for-demo-cohort", ["1200-1300"])
    publish_for("boris", "for-all", ["ALL_COHORTS"])
    publish_for("carla", "group-seats", ["1200-1300", "1500-1600"], maxParticipants=3)
    publish_for("anna", "later", ["1100-1200", "1200-1300"], day="2030-01-05")
    # what demo cannot
    publish_for("anna", "other-cohort", ["1500-1600"])
    publish_for("demo", "demos-own", ["ALL_COHORTS"])
    publish_for("boris", "ended", ["ALL_COHORTS"], day="2029-12-30")
    publish_for("boris", "group-full", ["ALL_COHORTS"], maxParticipants=2)
    book_as("dave", "boris", "group-full")
    book_as("carla", "boris", "group-full")
    publish_for("carla", "group-joined", ["ALL_COHORTS"], maxParticipants=3)
    book_as("demo", "carla", "group-joined")
    publish_for("dave", "booked", ["ALL_COHORTS"])
    book_as("carla", "dave", "booked")
    publish_for("dave", "group-canceled", ["ALL_COHORTS"], maxParticipants=3)
    owner_cancels = http_event(
        "PUT /meeting/cancel/{id}", caller="dave", path={"id": uuid("group-canceled")}
    )
    assert cancel.handler(owner_cancels, None)["statusCode"] == 200


DEMO_CAN_BOOK = {"for-demo-cohort", "for-all", "group-seats", "later"}


def test_a_1200_1300_player_sees_on_the_calendar_the_four_that_search_finds(market):
    # The example: ours answered {"availabilities": [], "meetings": []}.
    found = search_as("demo", startTime=SINCE)

    page = body(calendar_as("demo", startTime=SINCE))

    # search also lists the session demo joined (joining it again is a 409)
    assert found == DEMO_CAN_BOOK | {"group-joined"}
    offered = {named(a) for a in page["availabilities"] if a["owner"] != "demo"}
    assert offered - {"group-joined"} == DEMO_CAN_BOOK
    # the joined session comes once, as joined (demo is in it), not as something to book
    assert [named(a) for a in page["availabilities"]].count("group-joined") == 1


def test_a_window_that_started_before_the_calendar_but_has_not_ended_is_bookable(market):
    publish(market, "anna", "all-week", day="2030-01-01", endTime="2030-01-07T12:00:00Z")

    assert "all-week" in bookable("demo", startTime="2030-01-06T00:00:00Z")
    assert "all-week" not in bookable("demo", startTime="2030-01-07T12:00:00.001Z")


def test_a_booked_slot_leaves_the_others_calendars_and_a_freed_seat_comes_back(market):
    add_user(market, "eve", cohort="1200-1300")
    book_as("eve", "anna", "for-demo-cohort")

    assert "for-demo-cohort" not in bookable("demo", startTime=SINCE)
    leave = http_event("PUT /meeting/cancel/{id}", caller="dave", path={"id": uuid("group-full")})
    assert cancel.handler(leave, None)["statusCode"] == 200
    assert "group-full" in bookable("demo", startTime=SINCE)


def test_a_player_without_a_cohort_is_offered_only_all_cohorts(market):
    add_user(market, "newcomer", cohort="")

    assert bookable("newcomer", startTime=SINCE) == {"for-all", "demos-own", "group-joined"}


def token(positions):
    return base64.urlsafe_b64encode(json.dumps(positions).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "position",
    [
        {"status": "BOOKED", "startTime": "2030-01-02T09:00:00.000Z", "owner": "a", "id": "x"},
        {"status": "SCHEDULED", "startTime": "2020-01-02T09:00:00.000Z", "owner": "a", "id": "x"},
        {"status": "SCHEDULED", "startTime": "not a time", "owner": "a", "id": "x"},
        {"status": "SCHEDULED", "startTime": "2030-01-02T09:00:00Z", "owner": "a", "id": "x"},
        {"owner": "demo", "id": "x"},
    ],
)
def test_a_forged_bookable_position_is_400(market, position):
    response = calendar_as("demo", startTime=SINCE, startKey=token({"bookable": position}))

    assert response["statusCode"] == 400
    assert "startKey" in body(response)["message"]


def test_a_window_longer_than_a_week_is_400(tables):
    too_long = availability(endTime="2030-01-08T09:00:00.001Z")
    event = http_event("PUT /availability", body=too_long)

    response = set_availability.handler(event, None)

    assert response["statusCode"] == 400
    assert "endTime" in body(response)["message"]
    week = http_event("PUT /availability", body=availability(endTime="2030-01-08T09:00:00Z"))
    assert set_availability.handler(week, None)["statusCode"] == 200


def test_analyze_own_game_is_an_availability_type(tables):
    # The original's frontend sends every type for "All types", this one included.
    every = availability(types=list(AVAILABILITY_TYPES))
    response = set_availability.handler(http_event("PUT /availability", body=every), None)

    assert response["statusCode"] == 200
    assert "ANALYZE_OWN_GAME" in body(response)["types"]


@pytest.fixture(scope="module")
def busy():
    """A module-wide club for the paging property: bob's own, meetings on both sides, joined
    sessions and, mixed in time, what he can book and what he cannot."""
    from moto import mock_aws

    from database.client import dynamodb
    from support import create_tables

    with mock_aws():
        dynamodb.cache_clear()
        create_tables(dynamodb())
        client = dynamodb()
        for name in ("alice", "bob", "carol"):
            add_user(client, name)

        # In SearchIndex's time order, what bob cannot book comes in runs of at most two, so
        # no page but the last is empty (a page reads at most 5 times).
        def at(hour, minute=0):
            start = f"2030-01-02T{hour:02d}:{minute:02d}:00Z"
            return {"startTime": start, "endTime": f"2030-01-02T{hour:02d}:59:00Z"}

        for n in range(6):
            publish(client, "bob", f"own-{n}", **at(4 * n))
            publish(client, "alice", f"open-{n}", **at(4 * n + 1))
            publish(client, "carol", f"closed-{n}", cohorts=["0-400"], **at(4 * n + 2))
        for n in range(3):
            publish(client, "alice", f"m-{n}", day=f"2030-01-0{3 + n}")
            book_as("bob", "alice", f"m-{n}", day=f"2030-01-0{3 + n}")
            publish(client, "carol", f"group-{n}", maxParticipants=3, **at(4 * n + 3))
            book_as("bob", "carol", f"group-{n}")
            publish(client, "carol", f"group-seats-{n}", maxParticipants=3, **at(4 * n + 3, 30))
        yield client
    dynamodb.cache_clear()


BUSY_AVAILABILITIES = (
    {f"own-{n}" for n in range(6)}
    | {f"open-{n}" for n in range(6)}
    | {f"group-{n}" for n in range(3)}
    | {f"group-seats-{n}" for n in range(3)}
)


@settings(
    max_examples=hypothesis_examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(limits=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=20))
def test_any_page_sizes_give_every_item_exactly_once(busy, limits):
    items, key, pages = [], None, []
    for n in range(200):
        query = {"startTime": SINCE, "limit": str(limits[n % len(limits)])}
        page = body(calendar_as("bob", **query, **({"startKey": key} if key else {})))
        found = [("a", named(a)) for a in page["availabilities"]]
        found += [("m", named(m)) for m in page["meetings"]]
        assert len(found) <= int(query["limit"])
        pages.append(found)
        items += found
        key = page.get("lastEvaluatedKey")
        if key is None:
            break

    assert len(items) == len(set(items))
    assert {i for kind, i in items if kind == "a"} == BUSY_AVAILABILITIES
    assert {i for kind, i in items if kind == "m"} == {f"m-{n}" for n in range(3)}
    assert all(pages[:-1]), f"an empty page before the last: {pages}"
