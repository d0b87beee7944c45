"""Ids the API issues (contract version 3, "Ids"): no player can make an item whose key is
another player's availability, meeting or seat, and an id that is not one the API issues is
answered before any database call (404 in a path, 400 in a body). Issue 17."""

import uuid as uuids

import pytest

from database.availabilities import seat_id
from database.client import to_item
from handlers.availability import book, delete
from handlers.availability import get as get_availability
from handlers.availability import set as set_availability
from handlers.meeting import cancel
from handlers.meeting import get as get_meeting
from handlers.user import get as get_user
from support import add_user, availability, body, http_event, publish, snapshot, uuid

X = uuid("olga's open availability")
G = uuid("olga's group session")
H = uuid("olga's canceled meeting with pat")


def put(payload, caller="alice"):
    return set_availability.handler(
        http_event("PUT /availability", caller=caller, body=payload), None
    )


def book_as(caller, owner, availability_id, **fields):
    payload = {"owner": owner, "id": availability_id, **fields}
    return book.handler(http_event("PUT /availability/book", caller=caller, body=payload), None)


def cancel_as(caller, meeting_id):
    event = http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": meeting_id})
    return cancel.handler(event, None)


def database_calls(client) -> list[str]:
    """The DynamoDB operations called from now on."""
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


@pytest.fixture
def club(tables, built_once):
    built_once(a_club)
    return tables


def a_club(tables):
    """olga's open availability X, her group session G that pat joined, and her meeting H with
    pat, which pat canceled after the slot had ended; mallory (and his second account, mal2)
    want to squat them."""
    for name in ("olga", "pat", "mallory", "mal2"):
        add_user(tables, name, discordUsername=f"{name}#1")
    open_to_all = {"owner": "olga", "ownerDiscord": "olga#1", "cohorts": ["ALL_COHORTS"]}
    publish(tables, availability(**open_to_all, id=X))
    publish(tables, availability(**open_to_all, id=G, maxParticipants=3))
    assert book_as("pat", "olga", G)["statusCode"] == 200
    tables.put_item(
        TableName="test-meetings",
        Item=to_item(
            {
                "id": H,
                "owner": "olga",
                "participant": "pat",
                "startTime": "2020-01-01T09:00:00.000Z",
                "type": "CLASSICAL_GAME",
                "status": "CANCELED",
                "canceledBy": "pat",
            }
        ),
    )


# PUT /availability: the API issues ids


@pytest.mark.parametrize("given", [{}, {"id": ""}, {"id": None}])
def test_a_new_availability_gets_a_new_uuid4(tables, given):
    first, second = body(put(availability(**given))), body(put(availability(**given)))

    assert uuids.UUID(first["id"]).version == 4
    assert str(uuids.UUID(first["id"])) == first["id"]  # canonical
    assert first["id"] != second["id"]
    assert tables.scan(TableName="test-availabilities")["Count"] == 2


def test_an_id_updates_the_callers_own_availability(tables):
    created = body(put(availability()))

    updated = put(availability(id=created["id"], types=["BOOK_STUDY"]))

    assert updated["statusCode"] == 200
    assert body(updated)["types"] == ["BOOK_STUDY"]
    assert tables.scan(TableName="test-availabilities")["Count"] == 1


@pytest.mark.parametrize("taken", [X, G, H, uuid("nobody has it")])
def test_another_players_id_or_an_unknown_one_is_404_and_writes_nothing(club, taken):
    before = snapshot(club)

    response = put(availability(owner="mallory", id=taken), caller="mallory")

    assert response["statusCode"] == 404
    assert body(response)["code"] == 404
    assert snapshot(club) == before


def test_a_squatted_id_leaves_the_victims_availability_bookable(club):
    # mallory copies X from search and tries to publish his own X, then book it with mal2
    found = get_availability.handler(
        http_event(
            "GET /availability",
            caller="mallory",
            query={"byTime": "1", "startTime": "2029-01-01T00:00:00Z"},
        ),
        None,
    )
    assert X in {a["id"] for a in body(found)["availabilities"]}
    assert put(availability(owner="mallory", id=X), caller="mallory")["statusCode"] == 404
    assert book_as("mal2", "mallory", X, startTime="2030-01-01T10:00:00Z", type="CLASSICAL_GAME")[
        "statusCode"
    ] in (400, 404)

    booked = book_as("pat", "olga", X, startTime="2030-01-01T10:00:00Z", type="CLASSICAL_GAME")

    assert booked["statusCode"] == 200
    assert body(booked)["owner"] == "olga"


@pytest.mark.parametrize(
    "bad",
    [
        "a1",
        seat_id(G, "pat"),  # would have been pat's seat in G
        X.upper(),
        f"{{{X}}}",
        X + "\n",
        X.replace("-", ""),
        "x" * 5000,
        123,
    ],
)
def test_an_id_that_is_not_a_uuid_is_400_before_any_database_call(club, bad):
    calls = database_calls(club)

    response = put(availability(owner="mallory", id=bad), caller="mallory")

    assert response["statusCode"] == 400
    assert "id" in body(response)["message"]
    assert calls == []


def test_a_seat_key_cannot_be_squatted(club):
    before = snapshot(club)

    squat = put(availability(owner="mallory", id=seat_id(G, "mal2")), caller="mallory")
    joined = book_as("mal2", "olga", G)

    assert squat["statusCode"] == 400
    assert joined["statusCode"] == 200  # mal2's seat is free
    assert snapshot(club) != before


# Items from before version 3, when clients chose ids: they cannot be used against others either


def test_a_legacy_availability_reusing_a_canceled_meetings_id_cannot_replace_that_meeting(club):
    publish(club, availability(owner="mallory", ownerDiscord="m#1", id=H, cohorts=["ALL_COHORTS"]))
    meeting_before = club.get_item(TableName="test-meetings", Key=to_item({"id": H}))["Item"]

    response = book_as(
        "mal2", "mallory", H, startTime="2030-01-01T10:00:00Z", type="CLASSICAL_GAME"
    )

    assert response["statusCode"] == 409
    assert (
        club.get_item(TableName="test-meetings", Key=to_item({"id": H}))["Item"] == meeting_before
    )
    got = get_meeting.handler(http_event("GET /meeting/{id}", caller="pat", path={"id": H}), None)
    assert got["statusCode"] == 200


def test_a_legacy_meeting_under_a_seat_key_is_not_a_seat(club):
    # before version 3, mallory published an availability with id seat#<G>#carol and mal2
    # booked it: a meeting stored under carol's seat key in olga's session G
    add_user(club, "carol")
    club.put_item(
        TableName="test-meetings",
        Item=to_item(
            {
                "id": seat_id(G, "carol"),
                "owner": "mallory",
                "participant": "mal2",
                "startTime": "2030-01-01T09:00:00.000Z",
                "type": "CLASSICAL_GAME",
                "status": "SCHEDULED",
            }
        ),
    )
    before = snapshot(club)

    response = cancel_as("carol", G)

    assert response["statusCode"] == 404  # carol never joined G (it was a 500)
    assert snapshot(club) == before


def test_a_seat_given_up_is_taken_again_only_by_its_player(club):
    assert cancel_as("pat", G)["statusCode"] == 200

    again = book_as("pat", "olga", G)

    assert again["statusCode"] == 200
    assert [p["username"] for p in body(again)["participants"]] == ["pat"]


def test_a_stranger_cancelling_a_group_session_is_404(club):
    before = snapshot(club)

    response = cancel_as("mallory", G)

    assert response["statusCode"] == 404
    assert snapshot(club) == before


# Ids in paths and bodies: answered before any database call


PATH_ROUTES = [
    ("DELETE /availability/{id}", delete.handler),
    ("GET /meeting/{id}", get_meeting.handler),
    ("PUT /meeting/cancel/{id}", cancel.handler),
]


@pytest.mark.parametrize(("route", "handler"), PATH_ROUTES)
@pytest.mark.parametrize("bad", ["a1", seat_id(G, "pat"), X.upper(), "x" * 3000, "é" * 600])
def test_a_path_id_that_is_not_a_uuid_is_404_before_any_database_call(club, route, handler, bad):
    calls = database_calls(club)

    response = handler(http_event(route, caller="olga", path={"id": bad}), None)

    assert response["statusCode"] == 404
    assert body(response)["code"] == 404
    assert calls == []


@pytest.mark.parametrize("bad", ["a" * 129, "é" * 2000])
def test_a_path_username_no_player_can_have_is_404_before_any_database_call(club, bad):
    calls = database_calls(club)
    event = http_event("GET /public/user/{username}", caller=None, path={"username": bad})

    response = get_user.handler(event, None)

    assert response["statusCode"] == 404
    assert calls == []


@pytest.mark.parametrize("bad", ["a1", seat_id(G, "pat"), "x" * 3000, X.upper(), 7])
def test_a_booking_id_that_is_not_a_uuid_is_400_before_any_database_call(club, bad):
    calls = database_calls(club)

    response = book_as("pat", "olga", bad)

    assert response["statusCode"] == 400
    assert "id" in body(response)["message"]
    assert calls == []
