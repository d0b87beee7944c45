"""Contract v4, "Repeating availabilities": a series on PUT /availability, extendSeries (daily,
idempotent under repeats, concurrency and lateness) and DELETE /availability/series/{id}."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from database.times import format_time, parse_stored
from handlers.availability import book, delete, delete_series, extend_series
from handlers.availability import get as get_availability
from handlers.availability import set as set_availability
from local.schedule import scheduled_event
from support import add_user, availability, body, http_event, snapshot, uuid

# Tue 9 Mar 2027, 19:00 in Berlin (CET, 18:00Z). New York moves to EDT on 14 Mar, Berlin to
# CEST on 28 Mar; both back on 31 Oct (Berlin) and 7 Nov (New York).
FIRST = datetime(2027, 3, 9, 18, tzinfo=UTC)
CREATED = datetime(2027, 3, 8, 12, tzinfo=UTC)
WEEKLY = {"rule": "FREQ=WEEKLY;BYDAY=TU", "timezone": "Europe/Berlin"}


def series_body(**overrides):
    return availability(
        **{
            "startTime": format_time(FIRST),
            "endTime": format_time(FIRST + timedelta(hours=1)),
            "cohorts": ["ALL_COHORTS"],
            "recurrence": WEEKLY,
            **overrides,
        }
    )


@pytest.fixture
def created_at(tables, monkeypatch):
    """Series are created at CREATED (the booking rules still use the real clock: 2027 is
    ahead of it)."""
    add_user(tables, "alice")
    add_user(tables, "bob", timezone="America/New_York")
    add_user(tables, "carol")
    monkeypatch.setattr(set_availability, "now", lambda: CREATED)
    return tables


def create(body_=None, caller="alice"):
    return set_availability.handler(
        http_event("PUT /availability", caller=caller, body=body_ or series_body()), None
    )


def own(client, owner="alice"):
    items = client.query(
        TableName="test-availabilities",
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": owner}},
    )["Items"]
    return sorted(items, key=lambda item: item["startTime"]["S"])


def starts(client):
    return [item["startTime"]["S"] for item in own(client)]


def extend(at: datetime) -> dict:
    return extend_series.handler(scheduled_event("extendSeries", at), None)


def test_a_berlin_tuesday_at_1900_is_published_for_28_days_at_once(created_at):
    response = create()

    assert response["statusCode"] == 200, response["body"]
    first = body(response)
    # the answer is the first occurrence, with the series' id and its rule
    assert first["startTime"] == "2027-03-09T18:00:00.000Z"
    assert first["recurrence"] == WEEKLY
    assert len(first["seriesId"]) == 36
    # every occurrence starting within 28 days of the creation: 19:00 in Berlin each time
    assert starts(created_at) == [
        "2027-03-09T18:00:00.000Z",
        "2027-03-16T18:00:00.000Z",
        "2027-03-23T18:00:00.000Z",
        "2027-03-30T17:00:00.000Z",  # CEST from 28 Mar
    ]
    items = own(created_at)
    assert {item["seriesId"]["S"] for item in items} == {first["seriesId"]}
    assert len({item["id"]["S"] for item in items}) == 4
    assert all(
        parse_stored(item["endTime"]["S"]) - parse_stored(item["startTime"]["S"])
        == timedelta(hours=1)
        for item in items
    )
    listed = body(get_availability.handler(http_event("GET /availability"), None))
    assert len(listed["availabilities"]) == 4
    assert all(a["seriesId"] == first["seriesId"] for a in listed["availabilities"])


def test_a_player_in_new_york_books_the_right_slots_across_both_changes(created_at):
    create()
    # bob, in New York, searches and finds 14:00 EDT / 13:00 EST, as Berlin's 19:00 moves
    found = body(
        get_availability.handler(
            http_event(
                "GET /availability",
                caller="bob",
                query={"byTime": "1", "startTime": "2027-03-01T00:00:00Z"},
            ),
            None,
        )
    )["availabilities"]
    assert [a["startTime"] for a in found] == starts(created_at)
    for slot in found:
        booked = book.handler(
            http_event(
                "PUT /availability/book",
                caller="bob",
                body={
                    "owner": "alice",
                    "id": slot["id"],
                    "startTime": slot["startTime"],
                    "type": "CLASSICAL_GAME",
                },  # fmt: skip
            ),
            None,
        )
        assert booked["statusCode"] == 200, booked["body"]
    assert own(created_at) == []


def test_extend_series_fills_the_window_once_whatever_the_repeats(created_at):
    create()
    at = CREATED + timedelta(days=10)

    first_run = extend(at)
    again = extend(at)

    # 28 days from 18 Mar: 6 and 13 Apr join the 4 already there; the run again makes none
    assert first_run["created"] == 2
    assert again == {"series": 0, "created": 0, "deferred": 0}
    assert starts(created_at)[-2:] == ["2027-04-06T17:00:00.000Z", "2027-04-13T17:00:00.000Z"]
    assert len(starts(created_at)) == len(set(starts(created_at))) == 6


def test_simultaneous_runs_create_nothing_twice(created_at, atomic_moto):
    create()
    create(series_body(recurrence={"rule": "FREQ=DAILY", "timezone": "Asia/Kolkata"}))
    at = CREATED + timedelta(days=20)
    made_by_the_creates = len(own(created_at))

    with ThreadPoolExecutor(6) as pool:
        runs = list(pool.map(lambda _: extend(at), range(6)))

    items = own(created_at)
    keys = [(item["seriesId"]["S"], item["startTime"]["S"]) for item in items]
    assert len(keys) == len(set(keys))
    assert sum(run["created"] for run in runs) == len(items) - made_by_the_creates
    # every occurrence within 28 days of `at` that has not ended exists
    horizon = format_time(at + timedelta(days=28))
    daily = [item for item in items if item["recurrence"]["M"]["rule"]["S"] == "FREQ=DAILY"]
    assert max(item["startTime"]["S"] for item in daily) <= horizon
    assert parse_stored(max(item["startTime"]["S"] for item in daily)) > at + timedelta(days=27)


def test_a_late_run_catches_up_without_making_the_past(created_at):
    create()
    late = CREATED + timedelta(days=100)  # the job did not run for three months

    done = extend(late)

    made = [s for s in starts(created_at) if s > "2027-04-01"]
    assert all(parse_stored(s) > late for s in made)  # none already over
    assert done["created"] == len(made) == 4
    assert extend(late)["created"] == 0


def test_deleted_or_booked_occurrences_never_come_back(created_at):
    first = body(create())
    second, third = own(created_at)[1:3]
    delete.handler(http_event("DELETE /availability/{id}", path={"id": second["id"]["S"]}), None)
    booked = book.handler(
        http_event(
            "PUT /availability/book",
            caller="bob",
            body={
                "owner": "alice",
                "id": third["id"]["S"],
                "startTime": third["startTime"]["S"],
                "type": "CLASSICAL_GAME",
            },  # fmt: skip
        ),
        None,
    )
    assert booked["statusCode"] == 200
    before = starts(created_at)

    for days in (0, 1, 5, 10):
        extend(CREATED + timedelta(days=days))

    after = starts(created_at)
    assert second["startTime"]["S"] not in after and third["startTime"]["S"] not in after
    assert after[: len(before)] == before
    assert first["id"] == own(created_at)[0]["id"]["S"]


def test_a_bounded_series_stops(created_at):
    create(series_body(recurrence={"rule": "FREQ=WEEKLY;COUNT=2", "timezone": "Europe/Berlin"}))
    assert len(own(created_at)) == 2
    assert extend(CREATED + timedelta(days=60))["created"] == 0
    assert len(own(created_at)) == 2


def test_the_owners_zone_is_the_default(created_at):
    created_at.update_item(
        TableName="test-users",
        Key={"username": {"S": "alice"}},
        UpdateExpression="SET #tz = :tz",
        ExpressionAttributeNames={"#tz": "timezone"},
        ExpressionAttributeValues={":tz": {"S": "America/New_York"}},
    )
    response = create(series_body(recurrence={"rule": "FREQ=WEEKLY"}))
    assert body(response)["recurrence"] == {"rule": "FREQ=WEEKLY", "timezone": "America/New_York"}
    # 13:00 in New York: EST (18:00Z) on 9 Mar, EDT (17:00Z) from 14 Mar
    assert starts(created_at)[:2] == ["2027-03-09T18:00:00.000Z", "2027-03-16T17:00:00.000Z"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recurrence": {"rule": "FREQ=MONTHLY", "timezone": "Europe/Berlin"}}, "recurrence.rule"),
        ({"recurrence": {"rule": "FREQ=WEEKLY", "timezone": "Berlin"}}, "recurrence.timezone"),
        (
            {"recurrence": {"rule": "FREQ=WEEKLY;BYDAY=WE", "timezone": "Europe/Berlin"}},
            "startTime",
        ),
        ({"recurrence": {"rule": ""}}, "recurrence.rule"),
        ({"recurrence": "FREQ=WEEKLY"}, "recurrence"),
        ({"endTime": format_time(FIRST + timedelta(hours=25))}, "endTime"),
    ],
)
def test_a_series_outside_the_contract_is_a_400_changing_nothing(created_at, change, field):
    before = snapshot(created_at)
    response = create(series_body(**change))
    assert response["statusCode"] == 400
    assert body(response)["message"].startswith(field), body(response)
    assert snapshot(created_at) == before


def test_recurrence_cannot_change_on_an_existing_id(created_at):
    first = body(create())
    # the occurrence sent back as received (an edit) keeps its series
    edited = set_availability.handler(
        http_event("PUT /availability", body={**first, "description": "bring a board"}), None
    )
    assert edited["statusCode"] == 200, edited["body"]
    stored = own(created_at)[0]
    assert stored["seriesId"]["S"] == first["seriesId"]
    assert stored["description"]["S"] == "bring a board"
    # an edit by a client that knows nothing of series keeps it too
    plain = {k: v for k, v in first.items() if k not in ("recurrence", "seriesId")}
    assert (
        set_availability.handler(http_event("PUT /availability", body=plain), None)["statusCode"]
        == 200
    )
    assert own(created_at)[0]["seriesId"]["S"] == first["seriesId"]
    # another rule: 400, nothing changed
    before = snapshot(created_at)
    other = {**first, "recurrence": {"rule": "FREQ=DAILY", "timezone": "Europe/Berlin"}}
    changed = set_availability.handler(http_event("PUT /availability", body=other), None)
    assert changed["statusCode"] == 400
    assert body(changed)["message"].startswith("recurrence")
    assert snapshot(created_at) == before


def test_delete_series_deletes_its_open_occurrences_and_ends_it(created_at):
    first = body(create())
    group = body(create(series_body(maxParticipants=3)))
    one = [item for item in own(created_at) if item["seriesId"]["S"] == first["seriesId"]][1]
    booked = book.handler(
        http_event(
            "PUT /availability/book",
            caller="bob",
            body={
                "owner": "alice",
                "id": one["id"]["S"],
                "startTime": one["startTime"]["S"],
                "type": "CLASSICAL_GAME",
            },  # fmt: skip
        ),
        None,
    )
    assert booked["statusCode"] == 200
    joined = book.handler(
        http_event(
            "PUT /availability/book", caller="carol", body={"owner": "alice", "id": group["id"]}
        ),
        None,
    )
    assert joined["statusCode"] == 200

    # bob cannot; an unknown id is a 404 too
    for caller, series_id in (("bob", first["seriesId"]), ("alice", uuid("none"))):
        refused = delete_series.handler(
            http_event(
                "DELETE /availability/series/{seriesId}",
                caller=caller,
                path={"seriesId": series_id},
            ),  # fmt: skip
            None,
        )
        assert refused["statusCode"] == 404

    response = delete_series.handler(
        http_event("DELETE /availability/series/{seriesId}", path={"seriesId": first["seriesId"]}),
        None,
    )

    assert body(response) == {"deleted": 3}  # 4 made, 1 booked
    left = own(created_at)
    assert all(item["seriesId"]["S"] == group["seriesId"] for item in left)
    assert extend(CREATED + timedelta(days=30))["created"] == 4  # only the group series goes on
    assert all(item["seriesId"]["S"] == group["seriesId"] for item in own(created_at))
    # the group series deleted: the session carol joined stays
    gone = delete_series.handler(
        http_event("DELETE /availability/series/{seriesId}", path={"seriesId": group["seriesId"]}),
        None,
    )
    assert body(gone) == {"deleted": 7}
    assert [item["id"]["S"] for item in own(created_at)] == [group["id"]]
