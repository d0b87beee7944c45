"""setAvailability, getAvailability (own and search by time) and deleteAvailability."""

from datetime import UTC, datetime, timedelta

import pytest

from handlers.availability import delete, get
from handlers.availability import set as set_availability
from support import add_user, availability, body, http_event, publish, snapshot, uuid


def put(payload, caller="alice"):
    return set_availability.handler(
        http_event("PUT /availability", caller=caller, body=payload), None
    )


def stored(client, owner, availability_id):
    key = {"owner": {"S": owner}, "id": {"S": availability_id}}
    return client.get_item(TableName="test-availabilities", Key=key).get("Item")


def search(caller="bob", **query):
    query = {"byTime": "true", **query}
    return get.handler(http_event("GET /availability", caller=caller, query=query), None)


# setAvailability


def test_set_availability_stores_utc_times_and_assigns_an_id(tables):
    response = put(
        availability(startTime="2030-01-01T10:00:00+01:00", endTime="2030-01-01T07:00:00.5-05:00")
    )

    assert response["statusCode"] == 200
    saved = body(response)
    assert saved["startTime"] == "2030-01-01T09:00:00.000Z"
    assert saved["endTime"] == "2030-01-01T12:00:00.500Z"
    assert len(saved["id"]) == 36
    assert set(saved) == {
        "owner", "ownerDiscord", "ownerCohort", "id", "startTime", "endTime", "types", "cohorts",
        # version 2
        "location", "description", "maxParticipants", "status", "participants",
        # version 3
        "bookableByFreeUsers",
        # version 4 (a series' occurrence also has seriesId and recurrence)
        "minNoticeMinutes",
    }  # fmt: skip
    assert (saved["location"], saved["description"], saved["maxParticipants"]) == ("", "", 1)
    assert (saved["status"], saved["participants"]) == ("SCHEDULED", [])
    item = stored(tables, "alice", saved["id"])
    assert item["status"] == {"S": "SCHEDULED"}
    # endTime + 48 h, as epoch seconds, for DynamoDB's TTL
    ends = datetime(2030, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert item["expirationTime"] == {"N": str(int((ends + timedelta(hours=48)).timestamp()))}
    assert item["startTime"] == {"S": "2030-01-01T09:00:00.000Z"}


def test_set_availability_replaces_by_id(tables):
    first = body(put(availability()))
    second = body(put(availability(id=first["id"], types=["BOOK_STUDY"])))

    assert first["id"] == second["id"]
    assert stored(tables, "alice", first["id"])["types"] == {"L": [{"S": "BOOK_STUDY"}]}
    assert tables.scan(TableName="test-availabilities")["Count"] == 1


def test_set_availability_for_someone_else_is_403_and_changes_nothing(tables):
    before = snapshot(tables)

    response = put(availability(owner="bob"))

    assert response["statusCode"] == 403
    assert body(response)["code"] == 403
    assert snapshot(tables) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ownerDiscord": ""}, "ownerDiscord"),
        ({"ownerDiscord": None}, "ownerDiscord"),
        ({"ownerCohort": "3000+"}, "ownerCohort"),
        ({"ownerCohort": "ALL_COHORTS"}, "ownerCohort"),
        ({"startTime": "2030-01-01 09:00"}, "startTime"),
        ({"startTime": "2030-01-01T09:00:00"}, "startTime"),  # no offset
        ({"endTime": "tomorrow"}, "endTime"),
        ({"endTime": "2030-01-01T09:00:00Z"}, "startTime must be before endTime"),
        ({"endTime": "2030-01-01T08:00:00Z"}, "startTime must be before endTime"),
        ({"startTime": "2030-01-01T12:00:00-01:00", "endTime": "2030-01-01T12:30:00Z"}, "before"),
        ({"types": []}, "types"),
        ({"types": ["BLITZ"]}, "types"),
        ({"cohorts": []}, "cohorts"),
        ({"cohorts": ["1500-1600", "9999"]}, "cohorts"),
        ({"owner": None}, "owner"),
    ],
)
def test_invalid_availability_is_400_and_changes_nothing(tables, overrides, field):
    before = snapshot(tables)

    response = put(availability(**overrides))

    assert response["statusCode"] == 400
    assert field in body(response)["message"]
    assert snapshot(tables) == before


@pytest.mark.parametrize("payload", ["{not json", "[]", ""])
def test_availability_body_must_be_a_json_object(tables, payload):
    response = put(payload)

    assert response["statusCode"] == 400
    assert snapshot(tables)["test-availabilities"] == []


def test_set_availability_without_claims_is_401(tables):
    response = put(availability(), caller=None)

    assert response["statusCode"] == 401
    assert snapshot(tables)["test-availabilities"] == []


# getAvailability: own


def test_get_returns_only_the_callers_availabilities(tables):
    publish(tables, availability(id=uuid("a1")))
    publish(tables, availability(id=uuid("a2")))
    publish(tables, availability(id=uuid("b1"), owner="bob"))

    response = get.handler(http_event("GET /availability"), None)

    assert response["statusCode"] == 200
    result = body(response)
    assert sorted(a["id"] for a in result["availabilities"]) == sorted([uuid("a1"), uuid("a2")])
    assert "lastEvaluatedKey" not in result
    assert result["availabilities"][0]["status"] == "SCHEDULED"  # returned since version 2
    assert "expirationTime" not in result["availabilities"][0]


# getAvailability: search by time


def test_search_matches_time_range_cohort_and_excludes_the_callers_own(tables):
    add_user(tables, "bob", cohort="1500-1600")
    publish(tables, availability(id=uuid("in-range")))
    publish(tables, availability(id=uuid("all-cohorts"), cohorts=["ALL_COHORTS"]))
    publish(tables, availability(id=uuid("other-cohort"), cohorts=["0-400"]))
    publish(
        tables,
        availability(
            id=uuid("too-late"), startTime="2030-01-03T09:00:00Z", endTime="2030-01-03T10:00:00Z"
        ),
    )
    publish(tables, availability(id=uuid("bobs"), owner="bob"))

    response = search(startTime="2030-01-01T00:00:00Z", endTime="2030-01-02T00:00:00+00:00")

    assert response["statusCode"] == 200
    assert sorted(a["id"] for a in body(response)["availabilities"]) == sorted(
        [uuid("all-cohorts"), uuid("in-range")]
    )


def test_a_player_without_a_cohort_finds_only_all_cohorts(tables):
    add_user(tables, "bob", cohort="")
    publish(tables, availability(id=uuid("for-1500"), cohorts=["1500-1600"]))
    publish(tables, availability(id=uuid("for-all"), cohorts=["ALL_COHORTS"]))

    response = search(startTime="2030-01-01T00:00:00Z")

    assert [a["id"] for a in body(response)["availabilities"]] == [uuid("for-all")]


def test_search_compares_instants_not_strings(tables):
    add_user(tables, "bob")
    publish(tables, availability(id=uuid("at-nine-utc")))

    # 10:00+01:00 is 09:00Z: the bound is inclusive, whatever offset the client uses
    exact = search(startTime="2030-01-01T10:00:00+01:00", endTime="2030-01-01T04:00:00-05:00")
    after = search(startTime="2030-01-01T09:00:00.001Z")

    assert [a["id"] for a in body(exact)["availabilities"]] == [uuid("at-nine-utc")]
    assert body(after)["availabilities"] == []


def test_search_without_end_time_is_open_ended(tables):
    add_user(tables, "bob")
    publish(
        tables,
        availability(
            id=uuid("far"), startTime="2031-06-01T09:00:00Z", endTime="2031-06-01T10:00:00Z"
        ),
    )

    response = search(startTime="2030-01-01T00:00:00Z")

    assert [a["id"] for a in body(response)["availabilities"]] == [uuid("far")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "startTime"),
        ({"startTime": "yesterday"}, "startTime"),
        ({"startTime": "2030-01-02T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}, "endTime"),
        ({"startTime": "2030-01-01T00:00:00Z", "endTime": "soon"}, "endTime"),
        ({"startTime": "2030-01-01T00:00:00Z", "limit": "ten"}, "limit"),
        ({"startTime": "2030-01-01T00:00:00Z", "limit": "0"}, "limit"),
        ({"startTime": "2030-01-01T00:00:00Z", "limit": "101"}, "limit"),
        ({"startTime": "2030-01-01T00:00:00Z", "limit": "-1"}, "limit"),
        ({"startTime": "2030-01-01T00:00:00Z", "limit": "²"}, "limit"),
        ({"startTime": "2030-01-01T00:00:00Z", "limit": " 5"}, "limit"),
        ({"startTime": "2030-01-01T00:00:00Z", "startKey": "%%%"}, "startKey"),
        ({"startTime": "2030-01-01T00:00:00Z", "startKey": "eyJhIjoxfQ"}, "startKey"),
    ],
)
def test_invalid_search_is_400(tables, query, message):
    add_user(tables, "bob")

    response = search(**query)

    assert response["statusCode"] == 400
    assert message in body(response)["message"]


def test_a_start_key_from_another_query_is_400(tables):
    add_user(tables, "bob")
    for n in range(3):
        publish(tables, availability(id=uuid(f"a{n}")))
    own_page = body(get.handler(http_event("GET /availability", query={"limit": "1"}), None))
    search_page = body(search(startTime="2030-01-01T00:00:00Z", limit="1"))

    # alice's own-list key used by bob, an own-list key in a search, a search key outside
    # the searched range: each would be a DynamoDB ValidationException, i.e. a 500
    stolen = get.handler(
        http_event(
            "GET /availability", caller="bob", query={"startKey": own_page["lastEvaluatedKey"]}
        ),
        None,
    )
    crossed = search(startTime="2030-01-01T00:00:00Z", startKey=own_page["lastEvaluatedKey"])
    outside = search(startTime="2030-06-01T00:00:00Z", startKey=search_page["lastEvaluatedKey"])

    for response in (stolen, crossed, outside):
        assert response["statusCode"] == 400
        assert "startKey" in body(response)["message"]


def test_limit_pages_the_callers_availabilities(tables):
    for n in range(3):
        publish(tables, availability(id=uuid(f"a{n}")))

    first = body(get.handler(http_event("GET /availability", query={"limit": "2"}), None))
    second = body(
        get.handler(
            http_event(
                "GET /availability",
                query={"limit": "2", "startKey": first["lastEvaluatedKey"]},
            ),
            None,
        )
    )

    ids = sorted(uuid(f"a{n}") for n in range(3))
    assert [a["id"] for a in first["availabilities"]] == ids[:2]
    assert [a["id"] for a in second["availabilities"]] == ids[2:]
    assert "lastEvaluatedKey" not in second


# deleteAvailability


def delete_event(availability_id, caller="alice"):
    return http_event("DELETE /availability/{id}", caller=caller, path={"id": availability_id})


def test_delete_removes_the_callers_availability(tables):
    publish(tables, availability(id=uuid("a1")))

    response = delete.handler(delete_event(uuid("a1")), None)

    assert response["statusCode"] == 200
    assert stored(tables, "alice", uuid("a1")) is None


def test_delete_of_a_missing_availability_is_404(tables):
    response = delete.handler(delete_event(uuid("nope")), None)

    assert response["statusCode"] == 404
    assert body(response)["message"] == "Availability not found or already booked"


def test_delete_cannot_touch_another_users_availability(tables):
    publish(tables, availability(id=uuid("a1")))
    before = snapshot(tables)

    response = delete.handler(delete_event(uuid("a1"), caller="bob"), None)

    assert response["statusCode"] == 404
    assert snapshot(tables) == before


def test_delete_without_claims_is_401(tables):
    publish(tables, availability(id=uuid("a1")))

    response = delete.handler(delete_event(uuid("a1"), caller=None), None)

    assert response["statusCode"] == 401
    assert stored(tables, "alice", uuid("a1")) is not None


@pytest.mark.parametrize("name", ["startTime", "endTime"])
def test_a_malformed_time_is_400_even_when_not_searching(tables, name):
    add_user(tables, "bob")

    response = get.handler(http_event("GET /availability", query={name: "yesterday"}), None)

    assert response["statusCode"] == 400
    assert name in body(response)["message"]


@pytest.mark.parametrize("cohort", ["", "0-400", "1500-1600", "2400+"])
def test_search_finds_exactly_what_the_cohort_rule_admits(tables, cohort):
    # The search's filter (a DynamoDB expression) and a booking's check (rules/cohorts.py)
    # are one rule: what a player finds is what they may book.
    from rules.cohorts import admits

    add_user(tables, "bob", cohort=cohort)
    listings = {
        "all": ["ALL_COHORTS"],
        "one": ["1500-1600"],
        "two": ["0-400", "1500-1600"],
        "top": ["2400+"],
        "top-and-all": ["2400+", "ALL_COHORTS"],
    }
    for name, cohorts in listings.items():
        publish(tables, availability(id=uuid(name), cohorts=cohorts))

    found = body(search(startTime="2030-01-01T00:00:00Z"))["availabilities"]

    admitted = [uuid(name) for name, cohorts in listings.items() if admits(cohorts, cohort)]
    assert sorted(a["id"] for a in found) == sorted(admitted)
