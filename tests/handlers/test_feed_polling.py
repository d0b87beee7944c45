"""Polling a calendar feed (docs/calendar-feed.md, "Polling and cost"): every change a feed
shows gives a new ETag to every player it shows for (both sides of a meeting, the owner and
every member of a group session) and to no one else, and a poll whose If-None-Match matches is
a 304 made with exactly one DynamoDB call. Also SEQUENCE across a slot booked again."""

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from icalendar import Calendar

from database import availabilities
from database import feed as feed_data
from database import feed_version as feed_version_module
from database.client import from_item, to_item
from handlers.availability import book, delete
from handlers.availability import set as set_availability
from handlers.calendar import feed, feed_address
from handlers.meeting import cancel, reschedule
from support import (
    RoundTrips,
    add_user,
    availability,
    body,
    http_event,
    publish,
    snapshot,
    uuid,
)

A1, A2, S1 = uuid("poll-a1"), uuid("poll-a2"), uuid("poll-s1")
PLAYERS = ("alice", "bob", "carol", "dave")  # alice coaches; dave takes part in nothing
SESSION = availability(id=S1, maxParticipants=3, cohorts=["ALL_COHORTS"], location="Hall")


@pytest.fixture
def settled(monkeypatch):
    """Reads as if the indexes had caught up at once (test_the_version_waits_for_the_indexes
    tests the wait)."""
    monkeypatch.setattr(feed_data, "SETTLE", timedelta(0))


@pytest.fixture
def urls(tables, settled):
    for name in PLAYERS:
        add_user(tables, name)
    return {name: url_of(name) for name in PLAYERS}


def url_of(name):
    response = feed_address.handler(http_event("POST /user/calendar-feed", caller=name))
    assert response["statusCode"] == 200, response
    return body(response)["url"]


def get(url, etag=None):
    event = http_event(
        "GET /public/calendar-feed/{file}", caller=None, path={"file": url.rsplit("/", 1)[-1]}
    )
    if etag:
        event["headers"]["if-none-match"] = etag
    return feed.handler(event)


class ETags:
    """Every player's feed ETag, and whose changed since the last look."""

    def __init__(self, urls):
        self.urls = urls
        self.last = self.now()

    def now(self):
        tags = {}
        for name, url in self.urls.items():
            response = get(url)
            assert response["statusCode"] == 200, response
            tags[name] = response["headers"]["ETag"]
        return tags

    def changed(self) -> set[str]:
        current = self.now()
        names = {name for name in current if current[name] != self.last[name]}
        self.last = current
        return names


def ok(response):
    assert response["statusCode"] == 200, response
    return body(response)


def book_as(caller, slot=A1, start="2030-01-01T10:00:00Z"):
    request = {"owner": "alice", "id": slot, "startTime": start, "type": "CLASSICAL_GAME"}
    return ok(book.handler(http_event("PUT /availability/book", caller=caller, body=request)))


def join_as(caller, session=S1):
    request = {"owner": "alice", "id": session}
    return ok(book.handler(http_event("PUT /availability/book", caller=caller, body=request)))


def cancel_as(caller, meeting_id=A1):
    event = http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": meeting_id})
    return ok(cancel.handler(event))


def reschedule_as(caller, meeting_id, slot, start):
    event = http_event(
        "PUT /meeting/reschedule/{id}",
        caller=caller,
        path={"id": meeting_id},
        body={"owner": "alice", "id": slot, "startTime": start},
    )
    return ok(reschedule.handler(event))


def second_slot():
    return availability(id=A2, startTime="2030-01-02T09:00:00Z", endTime="2030-01-02T12:00:00Z")


# --- one read ------------------------------------------------------------------------------------


def test_a_poll_that_finds_nothing_changed_is_one_getitem(tables, urls, monkeypatch):
    publish(tables, availability(id=A1))
    book_as("bob")
    publish(tables, SESSION)
    join_as("bob")
    first = get(urls["bob"])
    etag = first["headers"]["ETag"]
    trips = RoundTrips().install(tables, monkeypatch)
    again = get(urls["bob"], etag=etag)
    assert again["statusCode"] == 304 and not again.get("body")
    assert again["headers"]["ETag"] == etag
    assert trips.calls == ["GetItem"] and trips.critical_path == 1
    trips.reset()
    assert get(urls["bob"], etag=f'"other", {etag}')["statusCode"] == 304  # a list of tags
    assert get(urls["bob"], etag="*")["statusCode"] == 304
    assert trips.calls == ["GetItem", "GetItem"]


# --- every change, for every player it shows for -------------------------------------------------


def test_a_meeting_booked_canceled_and_booked_again(tables, urls):
    publish(tables, availability(id=A1))
    etags = ETags(urls)
    book_as("bob")
    assert etags.changed() == {"alice", "bob"}
    cancel_as("bob")  # the participant: the slot reopens
    assert etags.changed() == {"alice", "bob"}
    book_as("carol")
    assert etags.changed() == {"alice", "carol"}
    cancel_as("alice")  # the owner
    assert etags.changed() == {"alice", "carol"}
    cancel_as("alice")  # again: nothing changes, and no feed is read again for it
    assert etags.changed() == set()


def test_a_reschedule(tables, urls):
    publish(tables, availability(id=A1))
    publish(tables, second_slot())
    book_as("bob")
    etags = ETags(urls)
    reschedule_as("bob", A1, A2, "2030-01-02T10:00:00Z")
    assert etags.changed() == {"alice", "bob"}


def test_a_group_session_joined_left_and_canceled(tables, urls):
    publish(tables, SESSION)
    etags = ETags(urls)
    join_as("bob")
    assert etags.changed() == {"alice", "bob"}
    join_as("carol")
    assert etags.changed() == {"alice", "carol"}
    cancel_as("bob", S1)  # bob leaves
    assert etags.changed() == {"alice", "bob"}
    join_as("bob")
    assert etags.changed() == {"alice", "bob"}
    cancel_as("alice", S1)  # the owner cancels it: every member's feed
    assert etags.changed() == {"alice", "bob", "carol"}


def test_a_session_with_members_changes_only_by_a_cancel(tables, urls):
    """Its time, place or description cannot change while someone joined (409), nor can it be
    deleted: so the cancel is the one change of a session that feeds show."""
    publish(tables, SESSION)
    join_as("bob")
    etags = ETags(urls)
    moved = http_event("PUT /availability", body={**SESSION, "location": "Hall B"})
    assert set_availability.handler(moved)["statusCode"] == 409
    gone = http_event("DELETE /availability/{id}", path={"id": S1})
    assert delete.handler(gone)["statusCode"] == 409
    assert etags.changed() == set()


def test_a_cancel_that_read_the_members_before_a_join_counts_the_joiner(tables, urls):
    """The owner's cancel read the session with bob only; carol joins before it commits: the
    cancel is conditional on the members it read, reads them again, and carol's feed shows it."""
    publish(tables, SESSION)
    join_as("bob")
    stale = availabilities.get_availability("alice", S1)
    assert stale is not None
    join_as("carol")
    etags = ETags(urls)
    canceled = availabilities.cancel_session(stale)
    assert canceled.status == "CANCELED"
    assert etags.changed() == {"alice", "bob", "carol"}


def feed_version(client, name) -> int:
    item = client.get_item(
        TableName="test-users", Key=to_item({"username": f"calendar-feed-of#{name}"})
    ).get("Item")
    return int(from_item(item).get("feedVersion", 0)) if item else 0


def test_a_full_session_of_100_members_raises_every_feed(tables, settled):
    """101 feeds and the session's Update are more than a transaction's 100 items: the feeds
    that do not fit are raised first, the cancel then commits with the others."""
    members = [f"m{n:03d}" for n in range(100)]
    session = {**SESSION, "maxParticipants": 100}
    publish(tables, session)
    joined = {
        name: {"username": name, "discord": "", "cohort": "1500-1600", "joinedAt": "2029-01-01"}
        for name in members
    }
    tables.update_item(
        TableName="test-availabilities",
        Key=to_item({"owner": "alice", "id": S1}),
        UpdateExpression="SET participants = :p, participantCount = :n, #s = :booked",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({":p": joined, ":n": 100, ":booked": "BOOKED"}),
    )
    cancel_as("alice", S1)
    assert all(feed_version(tables, name) == 1 for name in [*members, "alice"])
    assert feed_version(tables, "bob") == 0


# --- what the ETag is made of ----------------------------------------------------------------


def test_the_version_waits_for_the_indexes(tables, urls, monkeypatch):
    """Just after a change the feed's indexes may not show it yet: the feed is served with no
    ETag and no freshness, so the next poll reads it again; once settled, an ETag."""
    publish(tables, availability(id=A1))
    monkeypatch.setattr(feed_data, "SETTLE", timedelta(minutes=5))
    book_as("bob")
    fresh = get(urls["bob"])
    assert fresh["statusCode"] == 200 and "ETag" not in fresh["headers"]
    assert fresh["headers"]["Cache-Control"] == "private, no-cache"
    later = feed.now() + timedelta(minutes=5, seconds=1)
    monkeypatch.setattr(feed, "now", lambda: later)
    settled = get(urls["bob"])
    assert settled["headers"]["ETag"] and settled["headers"]["Cache-Control"].endswith("900")
    assert get(urls["bob"], etag=settled["headers"]["ETag"])["statusCode"] == 304


def test_a_feed_is_read_again_each_day(tables, urls, monkeypatch):
    """Time alone changes a feed (an event leaves it 30 days after its start): the ETag is the
    day's, so every feed is read in full at least once a day."""
    etag = get(urls["bob"])["headers"]["ETag"]
    assert get(urls["bob"], etag=etag)["statusCode"] == 304
    tomorrow = feed.now() + timedelta(days=1)
    monkeypatch.setattr(feed, "now", lambda: tomorrow)
    assert get(urls["bob"], etag=etag)["statusCode"] == 200


def test_a_new_address_is_the_same_feed(tables, urls):
    """Rotating changes the address, not what the feed shows."""
    etag = get(urls["bob"])["headers"]["ETag"]
    assert get(url_of("bob"), etag=etag)["statusCode"] == 304


# --- SEQUENCE never goes down for a UID used again -------------------------------------------


def sequence_in(url, uid) -> tuple[int, str]:
    response = get(url)
    assert response["statusCode"] == 200, response
    for event in Calendar.from_ical(response["body"]).walk("VEVENT"):
        if str(event["UID"]) == f"{uid}@dojo-scheduler":
            return int(event["SEQUENCE"]), str(event["STATUS"])
    raise AssertionError(f"{uid} is not in the feed")


def test_cancel_rebook_cancel_only_raises_the_sequence(tables, urls):
    publish(tables, availability(id=A1))
    seen = []
    book_as("bob")
    seen.append(sequence_in(urls["alice"], A1))
    cancel_as("bob")  # reopens the slot: a new meeting will have the same id (UID)
    seen.append(sequence_in(urls["alice"], A1))
    book_as("carol")
    seen.append(sequence_in(urls["alice"], A1))
    cancel_as("carol")
    seen.append(sequence_in(urls["alice"], A1))
    book_as("bob")
    seen.append(sequence_in(urls["alice"], A1))
    statuses = [status for _, status in seen]
    assert statuses == ["CONFIRMED", "CANCELLED", "CONFIRMED", "CANCELLED", "CONFIRMED"]
    numbers = [number for number, _ in seen]
    assert numbers == sorted(set(numbers)), numbers  # strictly growing


def test_a_move_back_into_the_first_slot_only_raises_the_sequence(tables, urls):
    publish(tables, availability(id=A1))
    publish(tables, second_slot())
    book_as("bob")
    first = sequence_in(urls["bob"], A1)
    reschedule_as("bob", A1, A2, "2030-01-02T10:00:00Z")
    left = sequence_in(urls["bob"], A1)
    assert left[1] == "CANCELLED" and left[0] > first[0]
    reschedule_as("bob", A2, A1, "2030-01-01T10:00:00Z")  # back into the first slot
    back = sequence_in(urls["bob"], A1)
    assert back[1] == "CONFIRMED" and back[0] > left[0]
    assert sequence_in(urls["bob"], A2)[1] == "CANCELLED"


# --- a coach's feed item is written by each of their changes -------------------------------------


def conflict() -> ClientError:
    """What DynamoDB answers a transaction that met another one on an item (here: the coach's
    feed item, written by a booking of another of their slots at the same moment)."""
    reasons = [{"Code": "None"}, {"Code": "None"}, {"Code": "TransactionConflict"}]
    message = "Transaction cancelled, please refer cancellation reasons for specific reasons"
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": message},
            "CancellationReasons": reasons,
        },
        "TransactWriteItems",
    )


def conflicts(client, times: int):
    """The next `times` TransactWriteItems calls are canceled for a conflict."""
    left = [times]

    def cancel_it(**_):
        if left[0]:
            left[0] -= 1
            raise conflict()

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", cancel_it)
    return cancel_it


def test_a_booking_that_met_another_change_on_a_feed_is_tried_again(tables, urls, monkeypatch):
    monkeypatch.setattr(feed_version_module, "BACKOFF", 0)
    publish(tables, availability(id=A1))
    etags = ETags(urls)
    hook = conflicts(tables, feed_version_module.ATTEMPTS - 1)
    try:
        book_as("bob")
    finally:
        tables.meta.events.unregister("before-call.dynamodb.TransactWriteItems", hook)
    assert etags.changed() == {"alice", "bob"}


def test_a_conflict_that_lasts_is_a_409_that_changed_nothing(tables, urls, monkeypatch):
    monkeypatch.setattr(feed_version_module, "BACKOFF", 0)
    publish(tables, availability(id=A1))
    before = snapshot(tables)
    hook = conflicts(tables, feed_version_module.ATTEMPTS)
    request = {"owner": "alice", "id": A1, "startTime": "2030-01-01T10:00:00Z"}
    request["type"] = "CLASSICAL_GAME"
    try:
        response = book.handler(http_event("PUT /availability/book", caller="bob", body=request))
    finally:
        tables.meta.events.unregister("before-call.dynamodb.TransactWriteItems", hook)
    assert response["statusCode"] == 409
    assert snapshot(tables) == before
