"""Group sessions (maxParticipants >= 2): joining, seats under concurrency, leaving, the owner
cancelling, deleting and replacing."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from handlers.availability import book, delete
from handlers.availability import get as get_availability
from handlers.availability import set as set_availability
from handlers.meeting import cancel
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

S1 = uuid("s1")
SESSION = availability(
    id=S1,
    maxParticipants=3,
    types=["OPENING_SPARRING", "BOOK_STUDY"],
    cohorts=["1500-1600", "1600-1700"],
    location="Discord: study-room",
    description="Najdorf study group",
)


def join_as(caller, **overrides):
    event = http_event(
        "PUT /availability/book", caller=caller, body={"owner": "alice", "id": S1, **overrides}
    )
    return book.handler(event, None)


def cancel_as(caller):
    event = http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": S1})
    return cancel.handler(event, None)


def session_item(client):
    return client.get_item(
        TableName="test-availabilities", Key={"owner": {"S": "alice"}, "id": {"S": S1}}
    ).get("Item")


def seats(client):
    items = client.scan(TableName="test-meetings")["Items"]
    return {item["joinedBy"]["S"]: item["status"]["S"] for item in items if "joinedBy" in item}


def search_as(caller):
    query = {"byTime": "1", "startTime": "2029-12-31T00:00:00Z"}
    event = http_event("GET /availability", caller=caller, query=query)
    return [a["id"] for a in body(get_availability.handler(event, None))["availabilities"]]


def put_session(session=SESSION):
    return set_availability.handler(http_event("PUT /availability", body=session), None)


@pytest.fixture
def session(tables):
    """alice runs s1 (3 seats, 1500-1700); bob, carol, dave, erin may join; zed (0-400) may not."""
    add_user(tables, "alice")
    for name in ("bob", "carol", "dave", "erin"):
        add_user(tables, name, discordUsername=f"{name}#1")
    add_user(tables, "zed", cohort="0-400")
    assert publish(tables, SESSION)["maxParticipants"] == 3
    return tables


def test_joining_answers_the_session_with_the_caller_in_it(session):
    response = join_as("bob")

    assert response["statusCode"] == 200
    joined = body(response)
    assert joined["id"] == S1
    assert joined["participants"] == [
        {"username": "bob", "discord": "bob#1", "cohort": "1500-1600"}
    ]
    assert joined["status"] == "SCHEDULED"
    assert seats(session) == {"bob": "SCHEDULED"}
    assert S1 in search_as("carol")  # seats are left
    assert session_item(session)["participantCount"] == {"N": "1"}


def test_a_group_session_is_never_in_version_1_meeting_lists(session):
    join_as("bob")

    for member in ("alice", "bob"):
        listed = body(list_meetings.handler(http_event("GET /meeting", caller=member), None))
        assert listed["meetings"] == []


def test_the_last_seat_closes_the_session_and_a_full_session_is_409(session):
    for name in ("bob", "carol"):
        assert join_as(name)["statusCode"] == 200

    last = join_as("dave")
    before = snapshot(session)
    full = join_as("erin")

    assert body(last)["status"] == "BOOKED"
    assert [p["username"] for p in body(last)["participants"]] == ["bob", "carol", "dave"]
    assert full["statusCode"] == 409
    assert body(full)["message"] == "This session is full"
    assert snapshot(session) == before
    assert S1 not in search_as("erin")
    # the owner still lists it
    own = body(get_availability.handler(http_event("GET /availability"), None))
    assert [(a["id"], a["status"]) for a in own["availabilities"]] == [(S1, "BOOKED")]


def test_joining_twice_is_409_and_changes_nothing(session):
    join_as("bob")
    before = snapshot(session)

    again = join_as("bob")

    assert again["statusCode"] == 409
    assert snapshot(session) == before


@pytest.mark.parametrize(
    ("caller", "overrides", "status", "message"),
    [
        ("alice", {}, 400, "own"),
        ("zed", {}, 400, "cohort"),
        ("bob", {"id": uuid("nope")}, 404, "not found"),
        ("bob", {"type": "CLASSICAL_GAME"}, 400, "type"),
        ("bob", {"startTime": "2030-01-01T10:00:00Z"}, 400, "startTime"),
        ("bob", {"startTime": "soon"}, 400, "startTime"),
    ],
)
def test_rejected_joins_change_nothing(session, caller, overrides, status, message):
    before = snapshot(session)

    response = join_as(caller, **overrides)

    assert response["statusCode"] == status
    assert message in body(response)["message"]
    assert snapshot(session) == before


def test_a_join_may_name_the_sessions_own_start_and_type(session):
    response = join_as("bob", startTime="2030-01-01T10:00:00+01:00", type="BOOK_STUDY")

    assert response["statusCode"] == 200


def test_seats_are_never_oversold(session, atomic_moto):
    players = [f"player{n}" for n in range(16)]
    for name in players:
        add_user(session, name, cohort="1600-1700")
    start = threading.Barrier(len(players))

    def attempt(name):
        start.wait()
        return join_as(name)["statusCode"]

    with ThreadPoolExecutor(len(players)) as pool:
        statuses = list(pool.map(attempt, players))

    assert statuses.count(200) == 3
    assert set(statuses) <= {200, 409}
    item = session_item(session)
    assert len(item["participants"]["M"]) == 3
    assert item["participantCount"] == {"N": "3"}
    assert item["status"] == {"S": "BOOKED"}
    assert len(seats(session)) == 3


def test_a_leaving_participant_frees_the_seat(session):
    for name in ("bob", "carol", "dave"):
        join_as(name)

    response = cancel_as("carol")

    assert response["statusCode"] == 200
    left = body(response)
    assert [p["username"] for p in left["participants"]] == ["bob", "dave"]
    assert left["status"] == "SCHEDULED"
    assert session_item(session)["status"] == {"S": "SCHEDULED"}
    assert seats(session) == {"bob": "SCHEDULED", "carol": "CANCELED", "dave": "SCHEDULED"}
    assert S1 in search_as("erin")
    assert join_as("erin")["statusCode"] == 200


def test_leaving_again_is_200_and_changes_nothing(session):
    join_as("bob")
    cancel_as("bob")
    before = snapshot(session)

    again = cancel_as("bob")

    assert again["statusCode"] == 200
    assert body(again)["participants"] == []
    assert snapshot(session) == before


def test_a_player_who_left_may_join_again(session):
    join_as("bob")
    cancel_as("bob")

    assert join_as("bob")["statusCode"] == 200
    assert seats(session) == {"bob": "SCHEDULED"}


def test_the_owner_cancelling_cancels_the_whole_session(session):
    join_as("bob")

    response = cancel_as("alice")
    again = cancel_as("alice")

    assert response["statusCode"] == again["statusCode"] == 200
    assert body(response)["status"] == body(again)["status"] == "CANCELED"
    assert [p["username"] for p in body(response)["participants"]] == ["bob"]
    assert S1 not in search_as("carol")
    assert join_as("carol")["statusCode"] == 409


def test_leaving_a_canceled_session_changes_nothing(session):
    join_as("bob")
    cancel_as("alice")
    before = snapshot(session)

    response = cancel_as("bob")

    assert response["statusCode"] == 200
    assert body(response)["status"] == "CANCELED"
    assert snapshot(session) == before


def test_a_stranger_cannot_cancel_a_session(session):
    join_as("bob")
    before = snapshot(session)

    assert cancel_as("carol")["statusCode"] == 404
    assert snapshot(session) == before


def test_a_session_with_participants_cannot_be_deleted_or_replaced(session):
    join_as("bob")
    before = snapshot(session)

    deleted = delete.handler(http_event("DELETE /availability/{id}", path={"id": S1}), None)
    replaced = put_session({**SESSION, "maxParticipants": 2})

    assert deleted["statusCode"] == replaced["statusCode"] == 409
    assert "cancel it instead" in body(deleted)["message"]
    assert snapshot(session) == before


def test_a_session_nobody_joined_can_be_deleted(session):
    join_as("bob")
    cancel_as("bob")

    deleted = delete.handler(http_event("DELETE /availability/{id}", path={"id": S1}), None)

    assert deleted["statusCode"] == 200
    assert session_item(session) is None


@pytest.mark.parametrize("value", [0, 101, 2.5, "3", True])
def test_max_participants_is_an_integer_from_1_to_100(tables, value):
    response = put_session({**SESSION, "maxParticipants": value})

    assert response["statusCode"] == 400
    assert "maxParticipants" in body(response)["message"]


def test_a_failed_join_is_500_and_changes_nothing(session):
    before = snapshot(session)
    handle = fail(session, "TransactWriteItems", client_error("ValidationException", "x", "Tx"))

    response = join_as("bob")

    assert response["statusCode"] == 500
    assert snapshot(session) == before
    session.meta.events.unregister("before-call.dynamodb.TransactWriteItems", handle)
    assert join_as("bob")["statusCode"] == 200
