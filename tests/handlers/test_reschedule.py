"""rescheduleMeeting (contract v4, "Rescheduling") on free meetings: the move in one
transaction, who may move what where, the booking rules on the new slot (the daily limit
counting the day the move frees), races with bookings, cancels and other reschedules, the
owner's message and the statistics. Paid meetings: tests/handlers/test_reschedule_payments.py."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from counters.changes import meeting_counts
from database.client import from_item
from database.times import format_time
from handlers.availability import book
from handlers.meeting import cancel, reschedule
from handlers.meeting import get as get_meeting
from notifications.changes import meeting_changes
from support import add_user, availability, body, http_event, publish, snapshot, uuid

A1, A2, A3 = uuid("r-a1"), uuid("r-a2"), uuid("r-a3")
D1 = uuid("r-d1")  # dave's
G1 = uuid("r-g1")  # alice's group session
OLD = availability(id=A1, location="Zoom A", description="first", cohorts=["ALL_COHORTS"])
NEW = availability(
    id=A2,
    startTime="2030-01-02T09:00:00Z",
    endTime="2030-01-02T12:00:00Z",
    location="Zoom B",
    types=["CLASSICAL_GAME", "BOOK_STUDY"],
    cohorts=["ALL_COHORTS"],
)
OTHER = availability(
    id=A3,
    startTime="2030-01-02T14:00:00Z",
    endTime="2030-01-02T16:00:00Z",
    cohorts=["ALL_COHORTS"],
)
MOVE = {"owner": "alice", "id": A2, "startTime": "2030-01-02T10:00:00Z"}


def book_as(caller, slot=A1, start="2030-01-01T10:00:00Z", owner="alice"):
    request = {"owner": owner, "id": slot, "startTime": start, "type": "CLASSICAL_GAME"}
    return book.handler(http_event("PUT /availability/book", caller=caller, body=request), None)


def reschedule_as(caller, meeting_id=A1, **move):
    event = http_event(
        "PUT /meeting/reschedule/{id}",
        caller=caller,
        path={"id": meeting_id},
        body={**MOVE, **move},
    )
    return reschedule.handler(event, None)


def cancel_as(caller, meeting_id):
    event = http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": meeting_id})
    return cancel.handler(event, None)


def item(client, table, **key):
    found = client.get_item(TableName=f"test-{table}", Key={k: {"S": v} for k, v in key.items()})
    return found.get("Item") and from_item(found["Item"])


def meetings(client):
    items = client.scan(TableName="test-meetings")["Items"]
    return {i["id"]["S"]: from_item(i) for i in items if "participant" in i}


@pytest.fixture
def booked(tables, built_once):
    return tables, built_once(a_booking)


def a_booking(tables):
    """alice published a1, a2 and a3 (bob booked a1); dave published d1, and a group session
    g1 of alice's. carol may book."""
    for name in ("alice", "bob", "carol", "dave"):
        add_user(tables, name)
    for published in (OLD, NEW, OTHER):
        publish(tables, published)
    publish(tables, availability(id=D1, owner="dave", cohorts=["ALL_COHORTS"]))
    publish(tables, availability(id=G1, maxParticipants=4, cohorts=["ALL_COHORTS"]))
    old_slot = item(tables, "availabilities", owner="alice", id=A1)
    assert book_as("bob")["statusCode"] == 200
    return old_slot


def test_the_participant_moves_the_meeting_in_one_step(booked):
    client, old_slot = booked

    response = reschedule_as("bob")

    assert response["statusCode"] == 200, response
    moved = body(response)
    assert moved == {
        "owner": "alice",
        "participant": "bob",
        "id": A2,
        "startTime": "2030-01-02T10:00:00.000Z",
        "type": "CLASSICAL_GAME",  # the meeting's, by default
        "location": "Zoom B",  # the new slot's
        "description": "",
        "status": "SCHEDULED",
        "rescheduledFrom": A1,
    }
    old = item(client, "meetings", id=A1)
    assert old["status"] == "CANCELED" and old["rescheduledTo"] == A2
    assert old["canceledBy"] == "bob"
    # The old slot is open again exactly as published; the new one is the meeting now.
    # (with the SEQUENCE its next meeting under the same id starts at: above the canceled one's)
    reopened = {**old_slot, "reopened": True, "sequence": 2}
    assert item(client, "availabilities", owner="alice", id=A1) == reopened
    assert item(client, "availabilities", owner="alice", id=A2) is None
    # Both members see the new time, and the old meeting moved.
    for member in ("alice", "bob"):
        shown = get_meeting.handler(
            http_event("GET /meeting/{id}", caller=member, path={"id": A2}), None
        )
        assert body(shown)["meeting"]["startTime"] == "2030-01-02T10:00:00.000Z"
        gone = get_meeting.handler(
            http_event("GET /meeting/{id}", caller=member, path={"id": A1}), None
        )
        assert body(gone)["meeting"]["rescheduledTo"] == A2
    # Another player can book the old slot again.
    assert book_as("carol")["statusCode"] == 200


def test_the_type_may_change_to_one_the_new_slot_offers(booked):
    assert body(reschedule_as("bob", type="BOOK_STUDY"))["type"] == "BOOK_STUDY"


def test_the_body_may_leave_out_the_owner(booked):
    move = {"id": A2, "startTime": "2030-01-02T10:00:00Z"}
    event = http_event("PUT /meeting/reschedule/{id}", caller="bob", path={"id": A1}, body=move)
    assert body(reschedule.handler(event, None))["rescheduledFrom"] == A1


def test_the_moved_meeting_moves_again_and_cancels_as_any(booked):
    client, _ = booked
    assert reschedule_as("bob")["statusCode"] == 200
    again = reschedule_as("bob", meeting_id=A2, id=A3, startTime="2030-01-02T14:00:00Z")
    assert body(again)["rescheduledFrom"] == A2
    assert item(client, "meetings", id=A2)["rescheduledTo"] == A3
    assert item(client, "availabilities", owner="alice", id=A2) is not None  # reopened

    assert body(cancel_as("bob", A3))["status"] == "CANCELED"
    assert item(client, "availabilities", owner="alice", id=A3) is not None


@pytest.mark.parametrize(
    ("caller", "meeting_id", "move", "status"),
    [
        ("bob", uuid("nothing"), {}, 404),
        ("alice", A1, {}, 403),  # the owner cancels instead
        ("carol", A1, {}, 403),
        ("bob", A1, {"id": uuid("missing")}, 409),
        ("bob", A1, {"owner": "dave", "id": D1, "startTime": "2030-01-01T10:00:00Z"}, 409),
        ("bob", A1, {"id": G1, "startTime": "2030-01-01T09:00:00Z"}, 409),
        ("bob", A1, {"id": A1, "startTime": "2030-01-01T10:00:00Z"}, 409),  # its own slot
        ("bob", A1, {"startTime": "2030-01-03T10:00:00Z"}, 400),  # outside the window
        ("bob", A1, {"type": "ENDGAME_SPARRING"}, 400),  # not offered
        ("bob", A1, {"startTime": "2020-01-02T10:00:00Z"}, 400),  # in the past
        ("bob", A1, {"startTime": "later"}, 400),
        ("bob", A1, {"id": "not-an-id"}, 400),
    ],
)
def test_refusals_change_nothing(booked, caller, meeting_id, move, status):
    client, _ = booked
    before = snapshot(client)

    response = reschedule_as(caller, meeting_id, **move)

    assert response["statusCode"] == status, response
    assert set(body(response)) == {"code", "message"}
    assert snapshot(client) == before


def test_a_canceled_meeting_is_not_rescheduled(booked):
    client, _ = booked
    assert cancel_as("bob", A1)["statusCode"] == 200
    before = snapshot(client)
    assert reschedule_as("bob", id=A1)["statusCode"] == 409  # not even to its reopened slot
    assert reschedule_as("bob")["statusCode"] == 409
    assert snapshot(client) == before


def test_a_cohort_the_new_slot_does_not_admit_is_a_400(booked):
    client, _ = booked
    publish(client, {**NEW, "cohorts": ["2000-2100"]})
    assert reschedule_as("bob")["statusCode"] == 400


def test_a_free_meeting_does_not_move_to_a_priced_slot(booked):
    client, _ = booked
    publish(client, {**NEW, "price": {"amount": 5000, "currency": "usd"}})
    before = snapshot(client)
    assert reschedule_as("bob")["statusCode"] == 409
    assert snapshot(client) == before


def test_the_new_slot_needs_its_notice(booked):
    client, _ = booked
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    window = {"startTime": format_time(soon), "endTime": format_time(soon + timedelta(hours=1))}
    publish(client, {**NEW, **window, "minNoticeMinutes": 120})
    response = reschedule_as("bob", startTime=window["startTime"])
    assert response["statusCode"] == 409
    assert "2 hours" in body(response)["message"]


def _limit(client, count):
    client.update_item(
        TableName="test-users",
        Key={"username": {"S": "alice"}},
        UpdateExpression="SET maxBookingsPerDay = :max",
        ExpressionAttributeValues={":max": {"N": str(count)}},
    )


def _day(client, day):
    key = {"id": {"S": f"day#alice#{day}"}}
    found = client.get_item(TableName="test-meetings", Key=key).get("Item") or {}
    return set(found.get("meetingIds", {}).get("SS", []))


@pytest.fixture
def limited(tables):
    """alice takes one booking a day; bob booked a1 (2030-01-01) under that limit."""
    for name in ("alice", "bob", "carol"):
        add_user(tables, name)
    _limit(tables, 1)
    for published in (OLD, NEW, OTHER):
        publish(tables, published)
    same_day = availability(
        id=uuid("r-same"), startTime="2030-01-01T15:00:00Z", endTime="2030-01-01T17:00:00Z"
    )
    publish(tables, {**same_day, "cohorts": ["ALL_COHORTS"]})
    assert book_as("bob")["statusCode"] == 200
    assert _day(tables, "2030-01-01") == {A1}
    return tables


def test_a_move_within_the_day_counts_the_place_it_frees(limited):
    response = reschedule_as("bob", id=uuid("r-same"), startTime="2030-01-01T15:00:00Z")

    assert response["statusCode"] == 200, response
    assert _day(limited, "2030-01-01") == {uuid("r-same")}
    # The reopened slot is that day's too: the day is full.
    assert book_as("carol")["statusCode"] == 409
    # The moved meeting's cancel frees the day.
    assert cancel_as("bob", uuid("r-same"))["statusCode"] == 200
    assert _day(limited, "2030-01-01") == set()
    assert book_as("carol")["statusCode"] == 200


def test_a_move_within_the_day_reads_the_day_again_after_a_booking_in_between(limited):
    """The swap is conditional on the day's set as read: carol's booking of that day, committed
    between that read and the move's transaction, makes the move read the day again."""
    _limit(limited, 2)
    late = availability(
        id=uuid("r-late"), startTime="2030-01-01T18:00:00Z", endTime="2030-01-01T19:00:00Z"
    )
    publish(limited, {**late, "cohorts": ["ALL_COHORTS"]})
    booked_between = []

    def book_once(**_):
        if not booked_between:
            booked_between.append(book_as("carol", slot=uuid("r-late"), start=late["startTime"]))

    limited.meta.events.register("after-call.dynamodb.GetItem", book_once)
    try:
        response = reschedule_as("bob", id=uuid("r-same"), startTime="2030-01-01T15:00:00Z")
    finally:
        limited.meta.events.unregister("after-call.dynamodb.GetItem", book_once)

    assert booked_between[0]["statusCode"] == 200
    assert response["statusCode"] == 200, response
    assert _day(limited, "2030-01-01") == {uuid("r-same"), uuid("r-late")}


def test_a_move_to_another_day_frees_the_old_day_and_needs_room_on_the_new(limited):
    assert book_as("carol", slot=A3, start="2030-01-02T14:00:00Z")["statusCode"] == 200
    before = snapshot(limited)

    assert reschedule_as("bob")["statusCode"] == 409  # 2030-01-02 is full
    assert snapshot(limited) == before

    assert cancel_as("carol", A3)["statusCode"] == 200
    assert reschedule_as("bob")["statusCode"] == 200
    assert _day(limited, "2030-01-01") == set()
    assert _day(limited, "2030-01-02") == {A2}
    assert book_as("carol")["statusCode"] == 200  # the old day has room again


def _race(*calls):
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result()["statusCode"] for future in futures]


def test_a_reschedule_and_a_booking_racing_for_one_slot_make_one_meeting(booked, atomic_moto):
    for _ in range(3):
        statuses = _race(
            lambda: reschedule_as("bob"),
            lambda: book_as("carol", slot=A2, start="2030-01-02T10:00:00Z"),
        )
        assert sorted(statuses) in ([200, 404], [200, 409]), statuses
        on = [m for m in meetings(atomic_moto).values() if m["status"] == "SCHEDULED"]
        assert len([m for m in on if m["id"] == A2]) == 1
        winner = item(atomic_moto, "meetings", id=A2)["participant"]
        # bob's old meeting is on exactly when he lost (and its slot closed), else moved.
        old = item(atomic_moto, "meetings", id=A1)
        reopened = item(atomic_moto, "availabilities", owner="alice", id=A1)
        assert (old["status"] == "SCHEDULED") == (winner == "carol") == (reopened is None)
        # Set it up again for the next round.
        _reset(atomic_moto)


def _reset(client):
    for found in meetings(client).values():
        client.delete_item(TableName="test-meetings", Key={"id": {"S": found["id"]}})
    for published in (OLD, NEW, OTHER):
        publish(client, published)
    assert book_as("bob")["statusCode"] == 200


def test_two_players_rescheduling_to_one_slot_make_one_meeting(booked, atomic_moto):
    assert book_as("carol", slot=A3, start="2030-01-02T14:00:00Z")["statusCode"] == 200
    statuses = _race(
        lambda: reschedule_as("bob"),
        lambda: reschedule_as("carol", meeting_id=A3),
    )
    assert sorted(statuses) == [200, 409], statuses
    winner = item(atomic_moto, "meetings", id=A2)
    loser = "carol" if winner["participant"] == "bob" else "bob"
    lost = A3 if loser == "carol" else A1
    assert item(atomic_moto, "meetings", id=lost)["status"] == "SCHEDULED"
    assert item(atomic_moto, "availabilities", owner="alice", id=lost) is None


def test_two_reschedules_of_one_meeting_move_it_once(booked, atomic_moto):
    statuses = _race(
        lambda: reschedule_as("bob"),
        lambda: reschedule_as("bob", id=A3, startTime="2030-01-02T14:00:00Z"),
    )
    assert sorted(statuses) == [200, 409], statuses
    on = [m for m in meetings(atomic_moto).values() if m["status"] == "SCHEDULED"]
    assert len(on) == 1
    [moved] = on
    free = A3 if moved["id"] == A2 else A2
    assert item(atomic_moto, "availabilities", owner="alice", id=free) is not None
    assert item(atomic_moto, "meetings", id=A1)["rescheduledTo"] == moved["id"]


def test_a_reschedule_racing_a_cancel_leaves_one_consistent_state(booked, atomic_moto):
    statuses = _race(lambda: reschedule_as("bob"), lambda: cancel_as("alice", A1))
    old = item(atomic_moto, "meetings", id=A1)
    assert old["status"] == "CANCELED"
    new = item(atomic_moto, "meetings", id=A2)
    if statuses[0] == 200:  # moved first: the owner's cancel of the old one changes nothing
        assert old["rescheduledTo"] == A2 and new["status"] == "SCHEDULED"
        assert item(atomic_moto, "availabilities", owner="alice", id=A2) is None
    else:  # canceled first (by the owner: nothing reopens), so nothing moved
        assert statuses == [409, 200]
        assert new is None and "rescheduledTo" not in old
        assert item(atomic_moto, "availabilities", owner="alice", id=A2) is not None
        assert item(atomic_moto, "availabilities", owner="alice", id=A1) is None


def _images(client):
    return item(client, "meetings", id=A1), item(client, "meetings", id=A2)


def test_the_owner_is_told_once_naming_both_times(booked):
    client, _ = booked
    before = item(client, "meetings", id=A1)
    assert reschedule_as("bob")["statusCode"] == 200
    old, new = _images(client)

    assert meeting_changes(before, old, "https://club.example") == []  # not a cancel
    [message] = meeting_changes(None, new, "https://club.example")
    assert message.recipient == "alice" and message.setting == "booking"
    first = int(datetime(2030, 1, 1, 10, tzinfo=UTC).timestamp())
    second = int(datetime(2030, 1, 2, 10, tzinfo=UTC).timestamp())
    assert f"from <t:{first}:f> to <t:{second}:f>" in message.text
    assert "rescheduled" in message.text


class Cohorts:
    def cohort(self, username):
        return "1500-1600"


def test_the_statistics_count_a_reschedule_once(booked):
    client, _ = booked
    before = item(client, "meetings", id=A1)
    assert reschedule_as("bob")["statusCode"] == 200
    old, new = _images(client)

    assert meeting_counts(before, old, Cohorts()) == {}
    counts = meeting_counts(None, new, Cohorts())
    assert counts["meetingStatistics"]["rescheduled"] == 1
    assert counts["meetingStatistics"]["created"] == 0
    assert counts["availabilityStatistics"]["booked"] == 1  # the slot it took
