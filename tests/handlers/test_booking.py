"""bookAvailability: the checks, the one transaction, concurrency and faults."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ReadTimeoutError

from handlers.availability import book
from handlers.availability import set as set_availability
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
    id=A1, types=["CLASSICAL_GAME", "BOOK_STUDY"], cohorts=["1500-1600", "1600-1700"]
)
BOOKING = {
    "owner": "alice",
    "id": A1,
    "startTime": "2030-01-01T10:00:00+01:00",
    "type": "BOOK_STUDY",
}


@pytest.fixture
def published(tables):
    """alice has published availability a1; bob (1600-1700) and carol (0-400) may book."""
    add_user(tables, "alice")
    add_user(tables, "bob", cohort="1600-1700")
    add_user(tables, "carol", cohort="0-400")
    publish(tables, AVAILABILITY)
    return tables


def book_as(caller, **overrides):
    return book.handler(
        http_event("PUT /availability/book", caller=caller, body={**BOOKING, **overrides}), None
    )


def meetings(client):
    return client.scan(TableName="test-meetings")["Items"]


def availabilities(client):
    return client.scan(TableName="test-availabilities")["Items"]


def test_booking_turns_the_availability_into_a_meeting(published):
    response = book_as("bob")

    assert response["statusCode"] == 200
    assert body(response) == {
        "owner": "alice",
        "participant": "bob",
        "id": A1,
        "startTime": "2030-01-01T09:00:00.000Z",
        "type": "BOOK_STUDY",
        # version 2: copied from the availability, and the meeting's status
        "location": "",
        "description": "",
        "status": "SCHEDULED",
    }
    assert availabilities(published) == []
    [meeting] = meetings(published)
    # fixed: the original never set the meeting's TTL; startTime + 48 h
    assert meeting["expirationTime"] == {"N": str(1893488400 + 48 * 3600)}


def test_all_cohorts_admits_any_cohort(published):
    set_availability.handler(
        http_event("PUT /availability", body={**AVAILABILITY, "cohorts": ["ALL_COHORTS"]}), None
    )

    assert book_as("carol")["statusCode"] == 200


@pytest.mark.parametrize(
    ("caller", "overrides", "status", "message"),
    [
        ("alice", {}, 400, "own"),
        ("bob", {"id": uuid("nope")}, 404, "not found or already booked"),
        ("bob", {"id": "nope"}, 400, "id"),  # not an id the API issues: none can exist
        ("bob", {"owner": "dave"}, 404, "not found or already booked"),
        ("bob", {"startTime": "2030-01-01T08:59:59.999Z"}, 400, "startTime"),
        ("bob", {"startTime": "2030-01-01T12:00:00.001Z"}, 400, "startTime"),
        ("bob", {"startTime": "2030-01-01T13:00:00-02:00"}, 400, "startTime"),
        ("bob", {"startTime": "10am"}, 400, "startTime"),
        ("bob", {"type": "ENDGAME_SPARRING"}, 400, "type"),
        ("bob", {"type": "BLITZ"}, 400, "type"),
        ("carol", {}, 400, "cohort"),
        ("bob", {"owner": None}, 400, "owner"),
        ("bob", {"id": None}, 400, "id"),
        ("bob", {"startTime": None}, 400, "startTime"),
        ("bob", {"type": None}, 400, "type"),
    ],
)
def test_rejected_booking_changes_nothing(published, caller, overrides, status, message):
    before = snapshot(published)
    payload = {key: value for key, value in {**BOOKING, **overrides}.items() if value is not None}

    response = book.handler(http_event("PUT /availability/book", caller=caller, body=payload), None)

    assert response["statusCode"] == status
    assert message in body(response)["message"]
    assert snapshot(published) == before


@pytest.mark.parametrize("payload", ["{", "null", ""])
def test_booking_body_must_be_json(published, payload):
    before = snapshot(published)

    response = book.handler(http_event("PUT /availability/book", caller="bob", body=payload), None)

    assert response["statusCode"] == 400
    assert snapshot(published) == before


def test_booking_without_claims_is_401(published):
    before = snapshot(published)

    response = book_as(None)

    assert response["statusCode"] == 401
    assert snapshot(published) == before


def test_a_booked_availability_cannot_be_booked_again_or_recreated(published):
    assert book_as("bob")["statusCode"] == 200

    again = book_as("bob")
    recreated = set_availability.handler(
        http_event("PUT /availability", caller="alice", body=AVAILABILITY), None
    )

    assert again["statusCode"] == 404
    assert recreated["statusCode"] == 404  # version 3: no such availability of alice's any more
    assert availabilities(published) == []
    assert len(meetings(published)) == 1


def test_availability_changed_after_the_check_is_not_booked(published, monkeypatch):
    # GIVEN the owner narrows the window between the booking's read and its write
    original = book.availabilities.book

    def owner_edits_first(availability, meeting, **options):
        narrowed = {**AVAILABILITY, "endTime": "2030-01-01T09:30:00Z"}
        set_availability.handler(http_event("PUT /availability", body=narrowed), None)
        original(availability, meeting, **options)

    monkeypatch.setattr(book.availabilities, "book", owner_edits_first)

    # WHEN bob's booking (checked against the old window) is written
    response = book_as("bob", startTime="2030-01-01T11:00:00Z")

    # THEN the transaction refuses it and the edited availability stays
    assert response["statusCode"] == 404
    assert meetings(published) == []
    assert availabilities(published)[0]["endTime"] == {"S": "2030-01-01T09:30:00.000Z"}


def test_concurrent_bookings_make_exactly_one_meeting(published, atomic_moto):
    bookers = [f"player{n}" for n in range(12)]
    for name in bookers:
        add_user(published, name, cohort="1500-1600")
    start = threading.Barrier(len(bookers))

    def attempt(name):
        start.wait()
        return book_as(name)["statusCode"]

    with ThreadPoolExecutor(len(bookers)) as pool:
        statuses = list(pool.map(attempt, bookers))

    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 404, 409}
    assert len(meetings(published)) == 1
    assert availabilities(published) == []


def test_failed_meeting_write_is_500_leaks_nothing_and_loses_nothing(published):
    before = snapshot(published)
    secret = "arn:aws:dynamodb:us-east-1:123456789012:table/test-meetings is on fire"
    handle = fail(
        published, "TransactWriteItems", client_error("ValidationException", secret, "Tx")
    )

    response = book_as("bob")

    assert response["statusCode"] == 500
    assert body(response) == {"code": 500, "message": "Temporary server error"}
    assert snapshot(published) == before

    published.meta.events.unregister("before-call.dynamodb.TransactWriteItems", handle)
    assert book_as("bob")["statusCode"] == 200


@pytest.mark.parametrize(
    "error",
    [
        client_error("ProvisionedThroughputExceededException", "slow down", "BatchGetItem"),
        client_error("ThrottlingException", "Rate exceeded", "BatchGetItem"),
        ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
)
def test_throttling_and_timeouts_are_503(published, error):
    before = snapshot(published)
    # The booking's one read (the availability and the player's profile: one BatchGetItem).
    handle = fail(published, "BatchGetItem", error)

    response = book_as("bob")

    assert response["statusCode"] == 503
    assert body(response) == {"code": 503, "message": "Temporary server error"}
    published.meta.events.unregister("before-call.dynamodb.BatchGetItem", handle)
    assert snapshot(published) == before
