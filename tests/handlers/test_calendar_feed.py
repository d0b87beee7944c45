"""The calendar feed (contract v4, "Calendar feed (iCalendar)"): the secret address, rotation and
revocation, and the feed as two independent iCalendar parsers read it (the `icalendar` package,
and the small RFC 5545 reader below). Its polling (one read when nothing changed, every change
a new ETag for every player it shows for) is in test_feed_polling.py."""

import base64
import hashlib
import json
import re
from datetime import timedelta

import pytest
from icalendar import Calendar
from ics_reader import simple_events

from database import feed as feed_data
from database.times import format_time, now
from handlers.admin import users as admin_users
from handlers.availability import book
from handlers.availability import set as set_availability
from handlers.calendar import feed, feed_address
from handlers.meeting import cancel
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

A1, A2, B1, S1 = uuid("feed-a1"), uuid("feed-a2"), uuid("feed-b1"), uuid("feed-s1")
# What players write, hostile to a careless writer: every character RFC 5545 escapes, a
# line break, a CR, an emoji (4 UTF-8 octets, which a fold must not split) and length.
HOSTILE = 'Room 5, "A"; back\\slash\nsecond line\n\t🙂 end:' + "é🙂" * 40


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    """Reads as if the indexes had caught up at once (test_feed_polling.py tests the wait)."""
    monkeypatch.setattr(feed_data, "SETTLE", timedelta(0))


@pytest.fixture
def players(tables):
    for name in ("alice", "bob", "carol"):
        add_user(tables, name)
    return tables


def address(caller, method="POST"):
    return feed_address.handler(http_event(f"{method} /user/calendar-feed", caller=caller))


def new_url(caller):
    response = address(caller)
    assert response["statusCode"] == 200, response
    return body(response)["url"]


def get(url_or_file, etag=None):
    file = url_or_file.rsplit("/", 1)[-1]
    event = http_event("GET /public/calendar-feed/{file}", caller=None, path={"file": file})
    if etag:
        event["headers"]["if-none-match"] = etag
    return feed.handler(event)


def events_of(response) -> dict[str, dict]:
    """The feed's VEVENTs by UID, as the icalendar package reads them."""
    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response["body"])
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["METHOD"]) == "PUBLISH"
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def book_as(caller, id=A1, **overrides):
    booking = {"owner": "alice", "id": id, "startTime": "2030-01-01T10:00:00Z", **overrides}
    event = http_event(
        "PUT /availability/book", caller=caller, body={"type": "CLASSICAL_GAME", **booking}
    )
    response = book.handler(event, None)
    assert response["statusCode"] == 200, response
    return body(response)


def cancel_as(caller, id=A1):
    event = http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": id})
    response = cancel.handler(event, None)
    assert response["statusCode"] == 200, response


# --- the address ---------------------------------------------------------------------------------


ADDRESS = r"https://[^/]+/public/calendar-feed/(([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43}))\.ics"


def name_part(username):
    return base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")


def test_the_token_is_random_and_stored_only_hashed(players):
    url = new_url("bob")
    token, name, secret = re.fullmatch(ADDRESS, url).groups()
    assert name == name_part("bob")  # the player's feed item is found by key (one GetItem)
    assert len(secret) * 6 >= 128
    assert new_url("carol") != url
    stored = json.dumps(snapshot(players))
    assert secret not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored


def test_any_name_is_in_an_address_that_works(tables):
    for name in ("bob", "é🙂 x/y?#", "a" * 100):
        add_user(tables, name)
        url = new_url(name)
        assert re.fullmatch(ADDRESS, url), url
        assert get(url)["statusCode"] == 200


def test_a_new_address_retires_the_old_one_and_delete_revokes(players):
    old = new_url("bob")
    assert get(old)["statusCode"] == 200
    new = new_url("bob")
    assert get(old)["statusCode"] == 404
    assert get(new)["statusCode"] == 200
    assert address("bob", "DELETE")["statusCode"] == 200
    assert get(new)["statusCode"] == 404
    assert address("bob", "DELETE")["statusCode"] == 200  # again: nothing changes
    assert get(new_url("bob"))["statusCode"] == 200


def test_rotation_keeps_one_hash_per_player(players):
    for _ in range(3):
        new_url("bob")
    items = players.scan(TableName="test-users")["Items"]
    assert sum("tokenHash" in item for item in items) == 1
    assert sum("calendarFeed" in item for item in items) == 1
    address("bob", "DELETE")
    items = players.scan(TableName="test-users")["Items"]
    assert not any("tokenHash" in item or "calendarFeed" in item for item in items)


def legacy_address(client, owner):
    """An address as made before the player's name was in it: `<secret>.ics`, its hash on the
    player's item and as the key of a token item."""
    token = "L" * 43
    digest = hashlib.sha256(token.encode()).hexdigest()
    client.put_item(
        TableName="test-users",
        Item={
            "username": {"S": f"calendar-feed#{digest}"},
            "feedOwner": {"S": owner},
            "tokenHash": {"S": digest},
        },
    )
    client.update_item(
        TableName="test-users",
        Key={"username": {"S": owner}},
        UpdateExpression="SET calendarFeed = :hash",
        ExpressionAttributeValues={":hash": {"S": digest}},
    )
    return f"https://example/public/calendar-feed/{token}.ics"


def test_an_address_made_before_names_were_in_it_works_until_rotated(players, monkeypatch):
    publish(players, availability(id=A1))
    book_as("bob")
    old = legacy_address(players, "bob")
    first = get(old)
    assert f"{A1}@dojo-scheduler" in events_of(first)
    trips = RoundTrips().install(players, monkeypatch)
    assert get(old, etag=first["headers"]["ETag"])["statusCode"] == 304
    assert trips.calls == ["GetItem", "GetItem"]  # its token item, then the feed item
    new = new_url("bob")
    assert get(old)["statusCode"] == 404
    assert get(new)["statusCode"] == 200
    keys = [item["username"]["S"] for item in players.scan(TableName="test-users")["Items"]]
    assert not any(key.startswith("calendar-feed#") for key in keys)  # its token item is gone


def test_the_admins_user_list_holds_players_not_token_items(players):
    add_user(players, "root", isAdmin=True)
    new_url("bob")
    response = admin_users.handler(http_event("GET /admin/user", caller="root"))
    listed = [user["username"] for user in body(response)["users"]]
    assert sorted(listed) == ["alice", "bob", "carol", "root"]
    assert "calendarFeed" not in response["body"]


def test_a_player_without_a_profile_gets_no_address(tables):
    assert address("nobody")["statusCode"] == 404
    assert snapshot(tables)["test-users"] == []


BOB = name_part("bob")


@pytest.mark.parametrize(
    "file",
    [
        "x.ics",
        "A" * 43 + ".ics",  # well formed, never issued
        f"{BOB}." + "A" * 43 + ".ics",  # bob's name, a secret never issued
        f"{name_part('nobody')}." + "A" * 43 + ".ics",  # a player with no feed at all
        "A" * 43,  # no .ics
        "../" + "A" * 40 + ".ics",
        "A" * 5000 + ".ics",
        "%00" * 20 + ".ics",
    ],
)
def test_anything_but_a_live_token_is_the_same_404(players, file):
    new_url("bob")
    response = get(file)
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"code": 404, "message": "Not found"}


@pytest.mark.parametrize(
    "file",
    [
        "x.ics",
        "A.".ljust(45, "A") + ".ics",  # a name part that is no base64
        "_w." + "A" * 43 + ".ics",  # base64 of no UTF-8 text
        "A" * 600 + "." + "A" * 43 + ".ics",  # longer than any name
        "A" * 44 + ".ics",
    ],
)
def test_a_malformed_token_makes_no_database_call(players, monkeypatch, file):
    trips = RoundTrips().install(players, monkeypatch)
    assert get(file)["statusCode"] == 404
    assert trips.calls == []


def test_one_players_secret_opens_no_other_feed(players):
    """The name in the address is not the credential: bob's secret under alice's name (whose
    feed is live too) is the same 404."""
    bob = re.fullmatch(ADDRESS, new_url("bob"))
    new_url("alice")
    forged = f"{name_part('alice')}.{bob[3]}.ics"
    assert get(forged)["statusCode"] == 404


def test_a_revoked_token_is_the_same_404(players):
    url = new_url("bob")
    address("bob", "DELETE")
    assert get(url)["body"] == get("A" * 43 + ".ics")["body"]


# --- the feed ------------------------------------------------------------------------------------


def test_the_owners_meetings_and_no_one_elses(players):
    publish(players, availability(id=A1, location="Club", description="prep"))
    publish(
        players,
        availability(id=A2, startTime="2030-01-02T09:00:00Z", endTime="2030-01-02T12:00:00Z"),
    )
    book_as("bob")
    book_as("carol", id=A2, startTime="2030-01-02T10:00:00Z")
    bob = events_of(get(new_url("bob")))
    assert list(bob) == [f"{A1}@dojo-scheduler"]
    event = bob[f"{A1}@dojo-scheduler"]
    assert str(event["SUMMARY"]) == "CLASSICAL_GAME with alice"
    assert str(event["STATUS"]) == "CONFIRMED"
    # UTC times; the meeting ends where its slot ended (kept at booking)
    assert event["DTSTART"].to_ical() == b"20300101T100000Z"
    assert event["DTEND"].to_ical() == b"20300101T120000Z"
    stored = players.get_item(TableName="test-meetings", Key={"id": {"S": A1}})["Item"]
    assert stored["endTime"] == {"S": "2030-01-01T12:00:00.000Z"}
    alice = events_of(get(new_url("alice")))
    assert set(alice) == {f"{A1}@dojo-scheduler", f"{A2}@dojo-scheduler"}
    assert str(alice[f"{A2}@dojo-scheduler"]["SUMMARY"]) == "CLASSICAL_GAME with carol"


def test_an_old_meeting_without_end_time_ends_at_its_slots(players):
    publish(players, availability(id=A1))
    book_as("bob")
    players.update_item(
        TableName="test-meetings", Key={"id": {"S": A1}}, UpdateExpression="REMOVE endTime"
    )
    event = events_of(get(new_url("bob")))[f"{A1}@dojo-scheduler"]
    assert event["DTEND"].to_ical() == b"20300101T120000Z"  # the snapshot of its availability


def test_a_cancel_keeps_the_uid_and_raises_the_sequence(players):
    publish(players, availability(id=A1))
    book_as("bob")
    url = new_url("bob")
    before = events_of(get(url))[f"{A1}@dojo-scheduler"]
    cancel_as("bob")
    after = events_of(get(url))[f"{A1}@dojo-scheduler"]
    assert str(after["STATUS"]) == "CANCELLED"
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["DTSTART"] == before["DTSTART"]  # the same event, not a new one


def test_a_group_session_location_change_and_cancel_raise_the_sequence(players):
    session = availability(id=S1, maxParticipants=3, location="Hall A", cohorts=["ALL_COHORTS"])
    publish(players, session)
    event = http_event("PUT /availability", caller="alice", body={**session, "location": "Hall B"})
    assert set_availability.handler(event, None)["statusCode"] == 200
    join = http_event("PUT /availability/book", caller="bob", body={"owner": "alice", "id": S1})
    assert book.handler(join, None)["statusCode"] == 200
    url, owner = new_url("bob"), new_url("alice")
    moved = events_of(get(url))[f"{S1}@dojo-scheduler"]
    assert str(moved["LOCATION"]) == "Hall B" and moved["SEQUENCE"] == 1
    assert f"{S1}@dojo-scheduler" in events_of(get(owner))
    cancel_as("alice", S1)
    canceled = events_of(get(url))[f"{S1}@dojo-scheduler"]
    assert str(canceled["STATUS"]) == "CANCELLED" and canceled["SEQUENCE"] == 2


def test_hostile_text_reads_back_exactly_in_both_parsers(players):
    publish(players, availability(id=A1, location=HOSTILE, description=HOSTILE[::-1]))
    book_as("bob")
    response = get(new_url("bob"))
    uid = f"{A1}@dojo-scheduler"
    event = events_of(response)[uid]
    assert str(event["LOCATION"]) == HOSTILE
    assert str(event["DESCRIPTION"]) == HOSTILE[::-1]
    simple = simple_events(response["body"].encode())[uid]
    assert simple["LOCATION"] == HOSTILE
    assert simple["DESCRIPTION"] == HOSTILE[::-1]
    assert simple["SEQUENCE"] == "0" and simple["DTSTART"] == "20300101T100000Z"


def test_a_carriage_return_is_a_line_break(players):
    """TEXT has no CR (RFC 5545 3.3.11: a line break is `\\n`): CRLF or CR reads back as one
    line break, in both parsers, and no raw control character reaches the feed."""
    publish(players, availability(id=A1, location="one\r\ntwo\rthree\x07"))
    book_as("bob")
    response = get(new_url("bob"))
    uid = f"{A1}@dojo-scheduler"
    assert str(events_of(response)[uid]["LOCATION"]) == "one\ntwo\nthree"
    assert simple_events(response["body"].encode())[uid]["LOCATION"] == "one\ntwo\nthree"


def test_an_unchanged_feed_is_a_304_and_a_change_a_new_etag(players):
    publish(players, availability(id=A1))
    book_as("bob")
    url = new_url("bob")
    first = get(url)
    etag = first["headers"]["ETag"]
    assert first["headers"]["Cache-Control"].startswith("private")
    again = get(url, etag=etag)
    assert again["statusCode"] == 304 and not again.get("body")
    assert again["headers"]["ETag"] == etag
    cancel_as("bob")
    changed = get(url, etag=etag)
    assert changed["statusCode"] == 200 and changed["headers"]["ETag"] != etag


def test_a_read_reads_by_key_only_and_waits_for_two_round_trips(players, monkeypatch):
    """The feed item, then the four parts at once (no Scan); a joined session adds one
    BatchGetItem. (A poll that finds nothing changed: test_feed_polling.py, one GetItem.)"""
    publish(players, availability(id=A1))
    book_as("bob")
    url = new_url("bob")
    trips = RoundTrips().install(players, monkeypatch)
    assert get(url)["statusCode"] == 200
    assert sorted(trips.calls) == ["GetItem", "Query", "Query", "Query", "Query"]
    assert trips.critical_path == 2
    session = availability(
        id=S1, maxParticipants=3, startTime="2030-01-03T09:00:00Z", endTime="2030-01-03T12:00:00Z"
    )
    publish(players, session)
    join = http_event("PUT /availability/book", caller="bob", body={"owner": "alice", "id": S1})
    assert book.handler(join, None)["statusCode"] == 200
    trips.reset()
    assert get(url)["statusCode"] == 200
    assert sorted(trips.calls) == ["BatchGetItem", "GetItem", "Query", "Query", "Query", "Query"]
    assert trips.critical_path == 3


def stored_meeting(client, id, start, status="SCHEDULED", participant="bob"):
    item = {"id": id, "owner": "alice", "participant": participant, "startTime": start}
    item |= {"type": "CLASSICAL_GAME", "status": status}
    client.put_item(TableName="test-meetings", Item={k: {"S": v} for k, v in item.items()})


def test_the_last_30_days_and_ahead_awaiting_payment_tentative(players):
    recent = format_time(now() - timedelta(days=29))
    old = format_time(now() - timedelta(days=31))
    stored_meeting(players, A1, recent, status="CANCELED")
    stored_meeting(players, A2, old, status="CANCELED")
    stored_meeting(players, B1, "2030-01-05T10:00:00.000Z", status="AWAITING_PAYMENT")
    events = events_of(get(new_url("bob")))
    assert set(events) == {f"{A1}@dojo-scheduler", f"{B1}@dojo-scheduler"}
    assert str(events[f"{A1}@dojo-scheduler"]["STATUS"]) == "CANCELLED"
    tentative = events[f"{B1}@dojo-scheduler"]
    assert str(tentative["STATUS"]) == "TENTATIVE"
    # a meeting stored before version 4 kept no end and no slot: an hour
    assert tentative["DTEND"].to_ical() == b"20300105T110000Z"
