"""Contract v4, "Booking rules": no booking in the past, no joining a started session, the
availability's notice, and the coach's daily limit counted on the coach's own day, exact
under concurrency."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from database.times import format_time
from handlers.availability import book
from handlers.meeting import cancel
from support import add_user, availability, body, http_event, publish, snapshot, uuid

NOW = datetime.now(UTC).replace(microsecond=0)


def at(delta: timedelta) -> str:
    return format_time(NOW + delta)


def book_as(caller, slot_id, start, owner="alice"):
    booking = {"owner": owner, "id": slot_id, "startTime": start, "type": "CLASSICAL_GAME"}
    return book.handler(http_event("PUT /availability/book", caller=caller, body=booking), None)


def join_as(caller, session_id):
    booking = {"owner": "alice", "id": session_id}
    return book.handler(http_event("PUT /availability/book", caller=caller, body=booking), None)


@pytest.fixture
def players(tables):
    add_user(tables, "alice")
    for name in ("bob", "carol", "dave", "erin", "frank", "grace"):
        add_user(tables, name)
    return tables


def meetings_of(client):
    items = client.scan(TableName="test-meetings")["Items"]
    return [item for item in items if "participant" in item]


# Past starts and started sessions


def test_booking_a_start_in_the_past_is_a_400_changing_nothing(players):
    # GIVEN a window that opened an hour ago and is still open
    slot = uuid("open-now")
    publish(
        players,
        availability(id=slot, startTime=at(-timedelta(hours=1)), endTime=at(timedelta(hours=2))),
    )
    before = snapshot(players)

    # WHEN bob books a start 10 minutes ago, inside the window
    response = book_as("bob", slot, at(-timedelta(minutes=10)))

    # THEN 400 "startTime is in the past", and nothing changed
    assert response["statusCode"] == 400
    assert body(response)["message"] == "startTime is in the past"
    assert snapshot(players) == before
    # a start still ahead in the same window books
    assert book_as("bob", slot, at(timedelta(minutes=30)))["statusCode"] == 200


def test_joining_a_session_that_has_started_is_a_409_changing_nothing(players):
    session = uuid("started")
    publish(
        players,
        availability(
            id=session,
            startTime=at(-timedelta(minutes=5)),
            endTime=at(timedelta(hours=1)),
            maxParticipants=4,
        ),
    )
    before = snapshot(players)

    response = join_as("bob", session)

    assert response["statusCode"] == 409
    assert body(response)["message"] == "This session has already started"
    assert snapshot(players) == before


# Notice


def test_too_short_notice_is_a_409_saying_how_much_is_needed(players):
    slot = uuid("notice")
    publish(
        players,
        availability(
            id=slot,
            startTime=at(timedelta(hours=1)),
            endTime=at(timedelta(hours=5)),
            minNoticeMinutes=120,
        ),
    )
    before = snapshot(players)

    too_soon = book_as("bob", slot, at(timedelta(hours=1, minutes=30)))

    assert too_soon["statusCode"] == 409
    assert body(too_soon)["message"] == (
        "This availability must be booked at least 2 hours before it starts"
    )
    assert snapshot(players) == before
    # the same window, a start far enough ahead
    assert book_as("bob", slot, at(timedelta(hours=3)))["statusCode"] == 200


def test_a_group_session_needs_its_notice_too(players):
    session = uuid("group-notice")
    publish(
        players,
        availability(
            id=session,
            startTime=at(timedelta(minutes=20)),
            endTime=at(timedelta(hours=2)),
            maxParticipants=3,
            minNoticeMinutes=60,
        ),
    )
    response = join_as("bob", session)
    assert response["statusCode"] == 409
    assert "1 hour" in body(response)["message"]


def test_min_notice_is_validated_and_published(players):
    from handlers.availability import set as set_availability

    new = availability(startTime=at(timedelta(days=1)), endTime=at(timedelta(days=1, hours=1)))
    for bad in (-1, 43201, 1.5, "60", True):
        response = set_availability.handler(
            http_event("PUT /availability", body={**new, "minNoticeMinutes": bad}), None
        )
        assert response["statusCode"] == 400, bad
        assert "minNoticeMinutes" in body(response)["message"]
    created = set_availability.handler(
        http_event("PUT /availability", body={**new, "minNoticeMinutes": 90}), None
    )
    assert body(created)["minNoticeMinutes"] == 90


# The coach's daily limit (the rules themselves: tests/unit/test_booking_window.py)


def slots_on(client, day_start: datetime, count: int) -> list[tuple[str, str]]:
    """`count` one-to-one slots of alice's, an hour apart from `day_start`: (id, start)."""
    slots = []
    for n in range(count):
        start = day_start + timedelta(hours=n)
        slot = uuid(f"slot-{day_start.isoformat()}-{n}")
        publish(
            client,
            availability(
                id=slot,
                startTime=format_time(start),
                endTime=format_time(start + timedelta(minutes=30)),
                cohorts=["ALL_COHORTS"],
            ),
        )
        slots.append((slot, format_time(start)))
    return slots


def test_a_full_day_is_a_409_and_a_cancel_frees_its_place(players):
    # GIVEN alice, in Berlin, takes 2 bookings a day
    players.update_item(
        TableName="test-users",
        Key={"username": {"S": "alice"}},
        UpdateExpression="SET #tz = :tz, maxBookingsPerDay = :max",
        ExpressionAttributeNames={"#tz": "timezone"},
        ExpressionAttributeValues={":tz": {"S": "Europe/Berlin"}, ":max": {"N": "2"}},
    )
    # Berlin's 2030-07-02 runs from 22:00Z on July 1st: the first slot is on it, not on July 1st
    (a, a_at), (b, b_at), (c, c_at) = slots_on(players, datetime(2030, 7, 1, 22, tzinfo=UTC), 3)
    (other, other_at), *_ = slots_on(players, datetime(2030, 7, 2, 22, tzinfo=UTC), 1)

    assert book_as("bob", a, a_at)["statusCode"] == 200
    assert book_as("carol", b, b_at)["statusCode"] == 200
    before = snapshot(players)
    full = book_as("dave", c, c_at)
    # THEN the third of that day is refused, changing nothing; the next day still has room
    assert full["statusCode"] == 409
    assert body(full)["message"] == "The coach takes no more bookings that day"
    assert snapshot(players) == before
    assert book_as("dave", other, other_at)["statusCode"] == 200

    # WHEN bob cancels, his place is free again
    canceled = cancel.handler(
        http_event("PUT /meeting/cancel/{id}", caller="bob", path={"id": a}), None
    )
    assert canceled["statusCode"] == 200
    assert book_as("dave", c, c_at)["statusCode"] == 200
    # a cancel retried gives nothing back twice: the day is full again
    again = cancel.handler(
        http_event("PUT /meeting/cancel/{id}", caller="bob", path={"id": a}), None
    )
    assert again["statusCode"] == 200
    assert book_as("erin", a, a_at)["statusCode"] == 409


def test_no_limit_writes_no_day_item(players):
    (a, a_at), *_ = slots_on(players, datetime(2030, 7, 1, 9, tzinfo=UTC), 1)
    assert book_as("bob", a, a_at)["statusCode"] == 200
    items = players.scan(TableName="test-meetings")["Items"]
    assert [item["id"]["S"] for item in items] == [a]


def test_simultaneous_bookings_of_a_day_with_room_for_one_make_exactly_one(players, atomic_moto):
    players.update_item(
        TableName="test-users",
        Key={"username": {"S": "alice"}},
        UpdateExpression="SET maxBookingsPerDay = :max",
        ExpressionAttributeValues={":max": {"N": "1"}},
    )
    slots = slots_on(players, datetime(2030, 7, 1, 8, tzinfo=UTC), 6)
    bookers = ["bob", "carol", "dave", "erin", "frank", "grace"]

    with ThreadPoolExecutor(len(bookers)) as pool:
        statuses = list(
            pool.map(
                lambda pair: book_as(pair[0], *pair[1])["statusCode"],
                zip(bookers, slots, strict=True),
            )
        )

    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409}, statuses
    assert len(meetings_of(players)) == 1
