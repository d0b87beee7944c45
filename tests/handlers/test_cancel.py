"""cancelMeeting on one-to-one meetings: who may cancel, what reopens, retries, races, faults."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from handlers.availability import book
from handlers.availability import get as get_availability
from handlers.meeting import cancel
from handlers.meeting import get as get_meeting
from handlers.meeting import list as list_meetings
from support import (
    add_user,
    availability,
    body,
    client_error,
    fail,
    http_event,
    publish,
    snapshot,
    uuid,
)

A1 = uuid("a1")
AVAILABILITY = availability(
    id=A1, location="https://zoom.example/a", description="Sicilian prep", cohorts=["ALL_COHORTS"]
)
BOOKING = {
    "owner": "alice",
    "id": A1,
    "startTime": "2030-01-01T10:00:00Z",
    "type": "CLASSICAL_GAME",
}


def cancel_as(caller, meeting_id=A1):
    return cancel.handler(
        http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": meeting_id}), None
    )


def book_as(caller, **overrides):
    event = http_event("PUT /availability/book", caller=caller, body={**BOOKING, **overrides})
    return book.handler(event, None)


def availability_item(client, owner="alice", id=A1):
    return client.get_item(
        TableName="test-availabilities", Key={"owner": {"S": owner}, "id": {"S": id}}
    ).get("Item")


def meeting_item(client, id=A1):
    return client.get_item(TableName="test-meetings", Key={"id": {"S": id}}).get("Item")


def search_as(caller):
    query = {"byTime": "1", "startTime": "2029-12-31T00:00:00Z"}
    result = body(
        get_availability.handler(http_event("GET /availability", caller=caller, query=query), None)
    )
    return [a["id"] for a in result["availabilities"]]


@pytest.fixture
def booked(tables):
    """alice published a1 (with location and description) and bob booked it; carol may book."""
    for name in ("alice", "bob", "carol"):
        add_user(tables, name)
    publish(tables, AVAILABILITY)
    published = availability_item(tables)
    assert book_as("bob")["statusCode"] == 200
    return tables, published


def test_the_meeting_copies_location_and_description(booked):
    client, _ = booked

    meeting = body(
        get_meeting.handler(http_event("GET /meeting/{id}", caller="bob", path={"id": A1}), None)
    )

    assert meeting["meeting"]["location"] == "https://zoom.example/a"
    assert meeting["meeting"]["description"] == "Sicilian prep"
    assert meeting["meeting"]["status"] == "SCHEDULED"


def test_participant_cancel_reopens_the_availability_exactly_as_it_was(booked):
    client, published = booked

    response = cancel_as("bob")

    assert response["statusCode"] == 200
    assert body(response)["status"] == "CANCELED"
    reopened = availability_item(client)
    # same id, window, types, text, TTL; marked reopened, so no statistic counts it as new
    assert reopened.pop("reopened") == {"BOOL": True}
    # and the SEQUENCE its next meeting (the same UID) starts at: above the canceled one's 1
    assert reopened.pop("sequence") == {"N": "2"}
    assert reopened == published
    assert A1 in search_as("carol")
    # both members still see the canceled meeting
    for member in ("alice", "bob"):
        got = get_meeting.handler(
            http_event("GET /meeting/{id}", caller=member, path={"id": A1}), None
        )
        assert body(got)["meeting"]["status"] == "CANCELED"
        listed = body(list_meetings.handler(http_event("GET /meeting", caller=member), None))
        assert [m["status"] for m in listed["meetings"]] == ["CANCELED"]


def test_a_reopened_availability_can_be_booked_again(booked):
    client, _ = booked
    cancel_as("bob")

    response = book_as("carol")

    assert response["statusCode"] == 200
    assert body(response)["participant"] == "carol"
    assert availability_item(client) is None
    assert meeting_item(client)["participant"] == {"S": "carol"}
    assert meeting_item(client)["status"] == {"S": "SCHEDULED"}


def test_owner_cancel_reopens_nothing(booked):
    client, _ = booked

    response = cancel_as("alice")

    assert response["statusCode"] == 200
    assert body(response)["status"] == "CANCELED"
    assert availability_item(client) is None
    assert A1 not in search_as("carol")
    assert meeting_item(client)["canceledBy"] == {"S": "alice"}


def test_participant_cancel_after_the_window_reopens_nothing(tables, monkeypatch):
    for name in ("alice", "bob"):
        add_user(tables, name)
    past = {**AVAILABILITY, "startTime": "2020-01-01T09:00:00Z", "endTime": "2020-01-01T12:00:00Z"}
    publish(tables, past)
    # booked back then (contract v4 refuses a start in the past)
    with monkeypatch.context() as then:
        then.setattr(book, "now", lambda: datetime(2019, 12, 31, tzinfo=UTC))
        assert book_as("bob", startTime="2020-01-01T10:00:00Z")["statusCode"] == 200

    response = cancel_as("bob")

    assert response["statusCode"] == 200
    assert body(response)["status"] == "CANCELED"
    assert availability_item(tables) is None


@pytest.mark.parametrize("member", ["alice", "bob"])
def test_cancelling_again_is_200_and_changes_nothing(booked, member):
    client, _ = booked
    first = cancel_as(member)
    before = snapshot(client)

    again = cancel_as(member)

    assert again["statusCode"] == 200
    assert body(again) == body(first)
    assert snapshot(client) == before


@pytest.mark.parametrize(
    ("caller", "meeting_id", "status"),
    [
        ("carol", A1, 403),
        ("bob", uuid("nope"), 404),
        ("alice", uuid("nope"), 404),
        ("bob", "a1", 404),
    ],
)
def test_strangers_and_missing_meetings_change_nothing(booked, caller, meeting_id, status):
    client, _ = booked
    before = snapshot(client)

    response = cancel_as(caller, meeting_id)

    assert response["statusCode"] == status
    assert body(response)["code"] == status
    assert snapshot(client) == before


def test_an_open_availability_is_not_a_meeting(tables):
    add_user(tables, "alice")
    publish(tables, AVAILABILITY)

    assert cancel_as("alice")["statusCode"] == 404


def test_cancel_without_claims_is_401(booked):
    event = http_event("PUT /meeting/cancel/{id}", caller=None, path={"id": A1})

    assert cancel.handler(event, None)["statusCode"] == 401


def test_a_version_1_meeting_cancels_without_reopening(tables):
    # A meeting booked before version 2 has no status and no copy of its availability.
    tables.put_item(
        TableName="test-meetings",
        Item={
            "id": {"S": uuid("old")},
            "owner": {"S": "alice"},
            "participant": {"S": "bob"},
            "startTime": {"S": "2030-01-01T09:00:00.000Z"},
            "type": {"S": "CLASSICAL_GAME"},
        },
    )

    response = cancel_as("bob", uuid("old"))

    assert response["statusCode"] == 200
    assert body(response)["status"] == "CANCELED"
    assert availability_item(tables, id=uuid("old")) is None


def test_a_failed_cancel_is_500_and_changes_nothing(booked):
    client, _ = booked
    before = snapshot(client)
    handle = fail(client, "TransactWriteItems", client_error("ValidationException", "secret", "Tx"))

    response = cancel_as("bob")

    assert response["statusCode"] == 500
    assert body(response) == {"code": 500, "message": "Temporary server error"}
    assert snapshot(client) == before
    client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", handle)
    assert cancel_as("bob")["statusCode"] == 200


def slot_state(client):
    """(the availability is open, a scheduled meeting holds its id)."""
    meeting = meeting_item(client)
    scheduled = meeting is not None and meeting.get("status", {}).get("S") == "SCHEDULED"
    return availability_item(client) is not None, scheduled


@pytest.mark.parametrize("round", range(3))
def test_cancel_racing_bookings_leaves_one_consistent_state(booked, atomic_moto, round):
    client, _ = booked
    players = [f"player{n}" for n in range(8)]
    for name in players:
        add_user(client, name)
    start = threading.Barrier(len(players) + 1)

    def attempt(caller):
        start.wait()
        return (cancel_as if caller == "bob" else book_as)(caller)["statusCode"]

    with ThreadPoolExecutor(len(players) + 1) as pool:
        statuses = dict(zip(["bob", *players], pool.map(attempt, ["bob", *players]), strict=True))

    assert statuses["bob"] == 200
    assert set(statuses.values()) <= {200, 404, 409}
    assert [s for p, s in statuses.items() if p != "bob"].count(200) <= 1
    # bob's cancel reopened the slot: it is open, or booked again by exactly one player
    is_open, scheduled = slot_state(client)
    assert is_open != scheduled


def test_owner_and_participant_cancelling_at_once_agree(booked, atomic_moto):
    client, _ = booked
    start = threading.Barrier(2)

    def attempt(caller):
        start.wait()
        return cancel_as(caller)

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(attempt, ["alice", "bob"]))

    assert [r["statusCode"] for r in responses] == [200, 200]
    assert all(body(r)["status"] == "CANCELED" for r in responses)
    # whoever won decided: the slot is open again only if bob's cancel was the one applied
    is_open, scheduled = slot_state(client)
    assert not scheduled
    assert is_open == (meeting_item(client)["canceledBy"] == {"S": "bob"})
