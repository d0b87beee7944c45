"""Input that was a 500 (issue 17): each is a 400 with a message, answered before any database
write, and changes nothing."""

import base64
import json

import pytest

from handlers.availability import book
from handlers.availability import get as get_availability
from handlers.availability import set as set_availability
from handlers.calendar import get as get_calendar
from handlers.meeting import cancel
from handlers.meeting import list as list_meetings
from handlers.user import set as set_user
from support import add_user, availability, body, http_event, publish, snapshot, uuid

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
LONE_SURROGATES = ["\\ud800x", "\\udfff", "x\\ud83d", "\\ud800\\u0041"]


def put(payload, caller="alice"):
    return set_availability.handler(
        http_event("PUT /availability", caller=caller, body=payload), None
    )


def writes(client) -> list[str]:
    """The DynamoDB write operations called from now on."""
    calls: list[str] = []

    def record(model, **_):
        if not model.name.startswith(("Get", "BatchGet", "Query", "Scan")):
            calls.append(model.name)

    client.meta.events.register("before-call.dynamodb", record)
    return calls


def token(plain: str) -> str:
    """A page token made of `plain` (JSON text), as the API encodes its own."""
    return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")


@pytest.fixture
def players(tables):
    add_user(tables, "alice")
    add_user(tables, "bob")
    return tables


# types and cohorts: some of the defined values, each once


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"types": ["CLASSICAL_GAME"] * 50_000}, "types"),
        ({"types": ["CLASSICAL_GAME", "BOOK_STUDY", "CLASSICAL_GAME"]}, "types"),
        ({"cohorts": ["1500-1600"] * 5_000}, "cohorts"),
        ({"cohorts": ["ALL_COHORTS", "ALL_COHORTS"]}, "cohorts"),
        ({"types": ["BOOK_STUDY"] * 5_000, "cohorts": ["0-400"] * 5_000}, "types"),
    ],
)
def test_unbounded_or_repeated_types_and_cohorts_are_400(players, overrides, field):
    before = snapshot(players)

    response = put(availability(**overrides))

    assert response["statusCode"] == 400
    assert field in body(response)["message"]
    assert snapshot(players) == before


def test_every_type_and_every_cohort_once_is_fine(players):
    from database.models import AVAILABILITY_TYPES
    from rules.cohorts import ALL_COHORTS, COHORTS

    everything = availability(types=list(AVAILABILITY_TYPES), cohorts=[*COHORTS, ALL_COHORTS])

    assert put(everything)["statusCode"] == 200


# JSON the functions cannot read: nested deeper than the stack, lone UTF-16 surrogates


@pytest.mark.parametrize("payload", [DEEP, DEEP_OBJECT, '{"types": ' + DEEP + "}"])
@pytest.mark.parametrize(
    ("route", "handler"),
    [
        ("PUT /availability", set_availability.handler),
        ("PUT /availability/book", book.handler),
        ("PUT /user", set_user.handler),
    ],
)
def test_deeply_nested_json_in_a_body_is_400(players, payload, route, handler):
    before = snapshot(players)

    response = handler(http_event(route, caller="bob", body=payload), None)

    assert response["statusCode"] == 400
    assert "JSON" in body(response)["message"]
    assert snapshot(players) == before


@pytest.mark.parametrize("text", LONE_SURROGATES)
@pytest.mark.parametrize(
    ("route", "handler", "field"),
    [
        ("PUT /user", set_user.handler, "discordUsername"),
        ("PUT /availability", set_availability.handler, "description"),
        ("PUT /availability", set_availability.handler, "ownerDiscord"),
    ],
)
def test_a_lone_surrogate_in_any_string_is_400(players, text, route, handler, field):
    before = snapshot(players)
    fields = availability() if route == "PUT /availability" else {"dojoCohort": "0-400"}
    raw = json.dumps({**fields, field: "PLACEHOLDER"}).replace("PLACEHOLDER", text)

    response = handler(http_event(route, caller="alice", body=raw), None)

    assert response["statusCode"] == 400
    assert snapshot(players) == before


def test_a_proper_surrogate_pair_is_text(players):
    raw = json.dumps({"discordUsername": "PLACEHOLDER"}).replace("PLACEHOLDER", "\\ud83d\\ude00")

    response = set_user.handler(http_event("PUT /user", caller="alice", body=raw), None)

    assert response["statusCode"] == 200
    assert body(response)["discordUsername"] == "😀"


LISTS = [
    ("GET /availability", get_availability.handler, {}),
    ("GET /availability", get_availability.handler, {"byTime": "1", "startTime": "2030-01-01T00:00:00Z"}),  # noqa: E501
    ("GET /meeting", list_meetings.handler, {}),
    ("GET /calendar", get_calendar.handler, {}),
]  # fmt: skip


@pytest.mark.parametrize(
    "plain",
    [
        DEEP,
        '{"owner": ' + DEEP + "}",
        '{"owner": "alice", "id": "\\ud800"}',
        '{"published": {"owner": "alice", "id": "\\udc00x"}}',
        '{"owner": "alice", "id": "' + "x" * 1025 + '"}',
        '{"owned": {"owner": "alice", "id": "' + "é" * 600 + '"}}',
        "NaN",
    ],
)
@pytest.mark.parametrize(("route", "handler", "query"), LISTS)
def test_a_start_key_that_is_not_one_the_api_gave_is_400(players, plain, route, handler, query):
    calls = writes(players)
    event = http_event(route, caller="alice", query={**query, "startKey": token(plain)})

    response = handler(event, None)

    assert response["statusCode"] == 400
    assert "startKey" in body(response)["message"]
    assert calls == []


# times whose expiry does not exist


@pytest.mark.parametrize(
    "window",
    [
        {"startTime": "9999-12-31T09:00:00Z", "endTime": "9999-12-31T12:00:00Z"},
        {"startTime": "2030-01-01T09:00:00Z", "endTime": "9999-12-31T23:59:59.999Z"},
        {"startTime": "2030-01-01T09:00:00Z", "endTime": "9999-01-01T00:30:00-01:00"},
    ],
)
def test_a_time_in_the_year_9999_is_400(players, window):
    before = snapshot(players)

    response = put(availability(**window))

    assert response["statusCode"] == 400
    assert "9999" in body(response)["message"]
    assert snapshot(players) == before


def test_the_year_9998_is_fine(players):
    window = {"startTime": "9998-12-31T09:00:00Z", "endTime": "9998-12-31T23:59:59-23:59"}

    assert put(availability(**window))["statusCode"] == 200


# the calendar's page token: every part's position is checked


@pytest.fixture
def joined(players):
    """bob joined alice's group sessions on 2 and 3 January 2030."""
    for day in ("02", "03"):
        session = availability(
            id=uuid(f"session {day}"),
            startTime=f"2030-01-{day}T09:00:00Z",
            endTime=f"2030-01-{day}T12:00:00Z",
            maxParticipants=2,
            cohorts=["ALL_COHORTS"],
        )
        publish(players, session)
        event = http_event(
            "PUT /availability/book", caller="bob", body={"owner": "alice", "id": session["id"]}
        )
        assert book.handler(event, None)["statusCode"] == 200
    return players


def calendar(caller="bob", **query):
    return get_calendar.handler(http_event("GET /calendar", caller=caller, query=query), None)


def joined_position(start: str) -> str:
    return token(
        json.dumps(
            {
                "joined": {
                    "joinedBy": "bob",
                    "startTime": start,
                    "id": f"seat#{uuid('session 02')}#bob",
                }
            }
        )
    )


def outside_the_key_condition(client) -> list[dict]:
    """The Queries from now on whose ExclusiveStartKey lies before their key condition's start
    (DynamoDB answers those with a ValidationException; moto does not check)."""
    found: list[dict] = []

    def check(params, **_):
        start = params.get("ExclusiveStartKey", {}).get("startTime", {}).get("S")
        low = params.get("ExpressionAttributeValues", {}).get(":since", {}).get("S")
        condition = params.get("KeyConditionExpression", "")
        if start and low and "#start >= :since" in condition and start < low:
            found.append(params)

    client.meta.events.register("provide-client-params.dynamodb.Query", check)
    return found


def test_a_joined_position_before_the_start_resumes_where_the_calendar_starts(joined):
    refused = outside_the_key_condition(joined)

    # a token from a page read with an earlier start (the default start moves between pages)
    response = calendar(
        startTime="2030-01-02T12:00:00Z", startKey=joined_position("2030-01-02T09:00:00.000Z")
    )

    assert refused == []  # on DynamoDB, a ValidationException: it was a 500
    assert response["statusCode"] == 200
    assert [a["id"] for a in body(response)["availabilities"]] == [uuid("session 03")]


@pytest.mark.parametrize("start", ["soon", "2030-01-02T09:00:00Z", "2030-01-02T09:00:00.000+00:00"])
def test_a_joined_position_that_is_not_a_stored_time_is_400(joined, start):
    response = calendar(startTime="2030-01-01T00:00:00Z", startKey=joined_position(start))

    assert response["statusCode"] == 400
    assert "startKey" in body(response)["message"]


def test_paging_the_calendar_with_the_default_start_still_works(joined):
    first = body(calendar(limit="1"))

    second = calendar(limit="1", startKey=first["lastEvaluatedKey"])

    assert second["statusCode"] == 200


# nothing above reached a database write; and a cancel of an id that is not an id is a 404


def test_cancel_of_a_huge_path_id_is_404(players):
    event = http_event("PUT /meeting/cancel/{id}", caller="bob", path={"id": "x" * 100_000})

    assert cancel.handler(event, None)["statusCode"] == 404
