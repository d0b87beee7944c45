"""countStatistics: the admins' counters, from the tables' change streams, each change counted
exactly once.

The changes are real: the API's own handlers publish, book, join, cancel and delete against the
moto tables, and moto's stream records (NEW_AND_OLD_IMAGES) are handed to the function as
Lambda hands them over (tests/handlers/test_notify.Streams).
"""

import pytest
from test_notify import Streams

from database.client import dynamodb, from_item
from handlers.admin import statistics as get_statistics
from handlers.availability import book, delete
from handlers.availability import set as set_availability
from handlers.meeting import cancel
from handlers.stream import statistics as count_statistics
from support import add_user, availability, body, client_error, fail, http_event, streams_client


@pytest.fixture
def streams(tables):
    return Streams(tables, streams_client())


@pytest.fixture
def club(tables):
    add_user(tables, "alice", cohort="1500-1600")
    add_user(tables, "bob", cohort="1200-1300")
    add_user(tables, "carol", cohort="0-400")
    add_user(tables, "admin", cohort="2400+", isAdmin=True)
    return tables


def ok(response: dict) -> dict:
    assert response["statusCode"] == 200, response
    return body(response)


def publish(owner="alice", **fields):
    event = http_event("PUT /availability", caller=owner, body=availability(owner=owner, **fields))
    return ok(set_availability.handler(event, None))


def book_as(caller, published, **fields):
    booking = {"owner": published["owner"], "id": published["id"], **fields}
    event = http_event("PUT /availability/book", caller=caller, body=booking)
    return ok(book.handler(event, None))


def cancel_as(caller, meeting_id):
    event = http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": meeting_id})
    return ok(cancel.handler(event, None))


def delete_as(caller, availability_id):
    event = http_event("DELETE /availability/{id}", caller=caller, path={"id": availability_id})
    return ok(delete.handler(event, None))


def run(records: list[dict]) -> list[str]:
    """The sequence numbers countStatistics reports as failed."""
    response = count_statistics.handler({"Records": records}, None)
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def take(streams) -> list[dict]:
    return streams.take("availabilities") + streams.take("meetings")


def statistics(caller="admin") -> dict:
    return ok(get_statistics.handler(http_event("GET /admin/statistics", caller=caller), None))


ONE_TO_ONE = {"startTime": "2030-01-01T10:00:00Z", "type": "CLASSICAL_GAME"}


def activity():
    """A day of the club: what each counter should say afterwards is in EXPECTED."""
    a1 = publish(cohorts=["1200-1300", "0-400"], types=["CLASSICAL_GAME", "ANALYZE_OWN_GAME"])
    a2 = publish(cohorts=["ALL_COHORTS"])
    group = publish(cohorts=["ALL_COHORTS"], maxParticipants=3, types=["BOOK_STUDY"])
    book_as("bob", a1, **ONE_TO_ONE)  # booked, alice's 1500-1600 with bob's 1200-1300
    cancel_as("bob", a1["id"])  # bob cancels: a1 reopens (not a new availability)
    book_as("carol", a1, **ONE_TO_ONE)  # booked again, by carol
    cancel_as("alice", a1["id"])  # the owner cancels: nothing reopens
    book_as("bob", group)  # joins
    book_as("carol", group)  # joins
    cancel_as("carol", group["id"])  # leaves (not a meeting canceled)
    delete_as("alice", a2["id"])  # deleted by its owner


EXPECTED = {
    "availabilityStatistics": {
        "created": 3,
        "deleted": 1,
        "booked": 2,
        "ownerCohorts": {"1500-1600": 3},
        "deleterCohorts": {"1500-1600": 1},
        "bookableCohorts": {"1200-1300": 1, "0-400": 1, "ALL_COHORTS": 2},
        "groupCohorts": {"1500-1600": 1},
        "types": {"CLASSICAL_GAME": 2, "ANALYZE_OWN_GAME": 1, "BOOK_STUDY": 1},
    },
    "meetingStatistics": {
        "created": 2,
        "canceled": 2,
        "rescheduled": 0,  # contract v4 (tests/handlers/test_reschedule.py counts one)
        "ownerCohorts": {"1500-1600": 2},
        "participantCohorts": {"1200-1300": 1, "0-400": 1},
        "cancelerCohorts": {"1200-1300": 1, "1500-1600": 1},
        "groupCohorts": {"1200-1300": 1, "0-400": 1},
        "types": {"CLASSICAL_GAME": 2},
    },
}


def test_nothing_counted_yet_is_zero_and_empty(club):
    assert statistics() == {
        name: {field: 0 if not isinstance(value, dict) else {} for field, value in fields.items()}
        for name, fields in EXPECTED.items()
    }


def test_each_change_counts_what_the_original_counted(club, streams):
    activity()

    assert run(take(streams)) == []

    assert statistics() == EXPECTED


def test_a_redelivered_batch_changes_no_count(club, streams):
    activity()
    records = take(streams)

    for _ in range(3):  # at-least-once delivery: the same records again, whole or in part
        assert run(records) == []
        assert run(records[len(records) // 2 :]) == []

    assert statistics() == EXPECTED


def test_a_partially_failed_batch_is_retried_from_its_first_failure(club, streams):
    activity()
    records = take(streams)
    calls = {"n": 0}

    def third_fails(**_):
        calls["n"] += 1
        if calls["n"] == 3:
            raise client_error("ProvisionedThroughputExceededException", "slow down", "Tx")

    dynamodb().meta.events.register("before-call.dynamodb.TransactWriteItems", third_fails)
    failed = run(records)
    dynamodb().meta.events.unregister("before-call.dynamodb.TransactWriteItems", third_fails)

    assert len(failed) == 1
    # Lambda redelivers from the first failed record on: those after it were counted already.
    first = [r["dynamodb"]["SequenceNumber"] for r in records].index(failed[0])
    assert statistics() != EXPECTED
    assert run(records[first:]) == []
    assert statistics() == EXPECTED


def test_expiries_are_not_deletions(club, streams):
    published = publish()
    run(take(streams))
    # DynamoDB's TTL removes the expired item as its own service principal.
    dynamodb().delete_item(
        TableName="test-availabilities",
        Key={"owner": {"S": "alice"}, "id": {"S": published["id"]}},
    )
    records = take(streams)
    for record in records:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

    assert run(records) == []
    assert statistics()["availabilityStatistics"]["deleted"] == 0


def test_a_claim_is_kept_per_record_and_expires(club, streams):
    publish()
    [record] = take(streams)
    run([record])

    claim = dynamodb().get_item(
        TableName="test-statistics", Key={"id": {"S": f"counted#{record['eventID']}"}}
    )
    assert "expirationTime" in from_item(claim["Item"])


def test_the_statistics_are_for_admins_only(club):
    response = get_statistics.handler(http_event("GET /admin/statistics", caller="bob"), None)

    assert response["statusCode"] == 403
    assert body(response)["code"] == 403


def test_counting_fails_the_record_when_dynamodb_fails(club, streams):
    publish()
    records = take(streams)
    hook = fail(dynamodb(), "TransactWriteItems", client_error("InternalServerError", "x", "Tx"))
    try:
        assert run(records) == [records[0]["dynamodb"]["SequenceNumber"]]
    finally:
        dynamodb().meta.events.unregister("before-call.dynamodb.TransactWriteItems", hook)
    assert statistics()["availabilityStatistics"]["created"] == 0
