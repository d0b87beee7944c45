"""getCalendar: the caller's availabilities, meetings and joined sessions, paged together,
each exactly once, read with Queries and a BatchGetItem only (never a Scan)."""

import pytest

from handlers.availability import book
from handlers.calendar import get as get_calendar
from handlers.meeting import cancel
from support import add_user, availability, body, http_event, uuid
from support import publish as store

SINCE = "2030-01-01T00:00:00Z"
NAMES: dict[str, str] = {}  # id -> the name a test gave it


def publish(client, owner, name, day="2030-01-02", **fields):
    """`owner`'s availability `name` (its id: uuid(name)) on `day`, open to all cohorts."""
    start, end = f"{day}T09:00:00Z", f"{day}T12:00:00Z"
    store(
        client,
        availability(
            owner=owner,
            id=uuid(name),
            startTime=start,
            endTime=end,
            cohorts=["ALL_COHORTS"],
            **fields,
        ),
    )
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
def club(tables):
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
    return tables


BOBS_AVAILABILITIES = {"a-bob", "group-bob", "group-alice"}
BOBS_MEETINGS = {"m-alice", "m-bob"}


def test_the_calendar_holds_everything_of_the_callers_from_the_start(club):
    response = calendar_as("bob", startTime=SINCE)

    assert response["statusCode"] == 200
    page = body(response)
    assert {named(a) for a in page["availabilities"]} == BOBS_AVAILABILITIES
    assert {named(m) for m in page["meetings"]} == BOBS_MEETINGS
    assert "lastEvaluatedKey" not in page
    joined = next(a for a in page["availabilities"] if named(a) == "group-alice")
    assert [p["username"] for p in joined["participants"]] == ["bob"]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 100])
def test_paging_returns_each_item_exactly_once(club, limit):
    availabilities, meetings, pages = everything("bob", limit, startTime=SINCE)

    assert sorted(availabilities) == sorted(BOBS_AVAILABILITIES)
    assert sorted(meetings) == sorted(BOBS_MEETINGS)
    assert pages >= 5 // limit


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
    assert set(calls) <= {"Query", "BatchGetItem"}


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
