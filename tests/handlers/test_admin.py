"""The admin routes: 403 unless the caller's profile says isAdmin (set by an operator, never
through the API), every user, availability and meeting in pages, and the Scan kept to them."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from database.client import to_item
from handlers.admin import availabilities, meetings, statistics, users
from handlers.availability import book
from handlers.user import get as get_user
from handlers.user import set as set_user
from local import iam
from support import (
    SERVICE,
    add_user,
    availability,
    body,
    http_event,
    hypothesis_examples,
    snapshot,
    uuid,
)
from support import publish as store

ROOT = Path(__file__).resolve().parents[2]
ROUTES = {
    "GET /admin/user": (users.handler, "users"),
    "GET /admin/availability": (availabilities.handler, "availabilities"),
    "GET /admin/meeting": (meetings.handler, "meetings"),
}


def call(route, caller="root", **query):
    handler = ROUTES[route][0] if route in ROUTES else statistics.handler
    return handler(http_event(route, caller=caller, query=query or None), None)


@pytest.fixture
def club(tables, built_once):
    built_once(a_club)
    return tables


def a_club(tables):
    add_user(tables, "root", isAdmin=True)
    for n in range(7):
        add_user(tables, f"player{n}")
    for n in range(6):
        owner = f"player{n % 3}"
        body_ = availability(owner=owner, id=uuid(f"a{n}"), maxParticipants=2 if n == 5 else 1)
        store(tables, body_)
    for n in range(3):  # a0..a2 become meetings
        booking = {"owner": f"player{n}", "id": uuid(f"a{n}"), "startTime": "2030-01-01T10:00:00Z",
                   "type": "CLASSICAL_GAME"}  # fmt: skip
        event = http_event("PUT /availability/book", caller="player6", body=booking)
        assert book.handler(event, None)["statusCode"] == 200
    joined = http_event("PUT /availability/book", caller="player6", body={"owner": "player2",
                        "id": uuid("a5")})  # fmt: skip
    assert book.handler(joined, None)["statusCode"] == 200  # a seat: not a meeting


EVERYTHING = {
    "users": {"root", *(f"player{n}" for n in range(7))},
    "availabilities": {"a3", "a4", "a5"},
    "meetings": {"a0", "a1", "a2"},
}


NAMES = {uuid(f"a{n}"): f"a{n}" for n in range(6)}  # the ids the fixture gave, by name


def key_of(name, item):
    return item["username"] if name == "users" else NAMES[item["id"]]


@pytest.mark.parametrize("route", [*ROUTES, "GET /admin/statistics"])
def test_everyone_but_an_admin_gets_403(club, route):
    before = snapshot(club)

    response = call(route, caller="player1")

    assert response["statusCode"] == 403
    assert body(response) == {"code": 403, "message": "You must be an admin to do this"}
    assert snapshot(club) == before


@pytest.mark.parametrize("route", [*ROUTES, "GET /admin/statistics"])
def test_an_unknown_player_gets_403_and_no_caller_401(club, route):
    assert call(route, caller="stranger")["statusCode"] == 403
    assert call(route, caller=None)["statusCode"] == 401


@pytest.mark.parametrize("route", ROUTES)
def test_an_admin_lists_everything(club, route):
    name = ROUTES[route][1]

    page = body(call(route))

    assert {key_of(name, item) for item in page[name]} == EVERYTHING[name]
    assert "lastEvaluatedKey" not in page


def test_the_user_list_holds_profiles_not_email_or_name(club):
    page = body(call("GET /admin/user"))

    root = next(user for user in page["users"] if user["username"] == "root")
    assert root["isAdmin"] is True
    assert not {"email", "name"} & set(root)


@settings(
    max_examples=hypothesis_examples(15),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(route=st.sampled_from(list(ROUTES)), limits=st.lists(st.integers(1, 4), min_size=1))
def test_pages_give_every_item_exactly_once(club, route, limits):
    name, seen, key = ROUTES[route][1], [], None
    for n in range(100):
        query = {"limit": str(limits[n % len(limits)]), **({"startKey": key} if key else {})}
        response = call(route, **query)
        assert response["statusCode"] == 200, response
        page = body(response)
        assert len(page[name]) <= int(query["limit"])
        seen += [key_of(name, item) for item in page[name]]
        key = page.get("lastEvaluatedKey")
        if key is None:
            break

    assert sorted(seen) == sorted(EVERYTHING[name])


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "query",
    [
        {"startKey": "!!!"},
        {"startKey": "eyJ4IjoxfQ"},  # {"x":1}
        {"startKey": "bm9wZQ"},
        {"limit": "0"},
        {"limit": "101"},
    ],
)
def test_bad_paging_is_400(club, route, query):
    response = call(route, **query)

    assert response["statusCode"] == 400
    assert body(response)["code"] == 400


def test_another_lists_key_is_400(club):
    user_key = body(call("GET /admin/user", limit="1"))["lastEvaluatedKey"]

    assert call("GET /admin/meeting", startKey=user_key)["statusCode"] == 400
    assert call("GET /admin/availability", startKey=user_key)["statusCode"] == 400


def test_get_user_says_whether_the_caller_is_an_admin(club):
    assert body(get_user.handler(http_event("GET /user", caller="root"), None))["isAdmin"] is True
    mine = body(get_user.handler(http_event("GET /user", caller="player1"), None))
    assert mine["isAdmin"] is False
    public = http_event("GET /public/user/{username}", caller=None, path={"username": "root"})
    assert "isAdmin" not in body(get_user.handler(public, None))


def test_put_user_cannot_make_anyone_an_admin(club):
    event = http_event("PUT /user", caller="player1", body={"isAdmin": True, "dojoCohort": "0-400"})

    response = set_user.handler(event, None)

    assert response["statusCode"] == 200
    assert body(response)["isAdmin"] is False
    stored = club.get_item(TableName="test-users", Key=to_item({"username": "player1"}))["Item"]
    assert "isAdmin" not in stored


def test_only_the_admin_lists_may_scan():
    """The roles the framework builds grant dynamodb:Scan to the three admin list functions only,
    each on its own table: every other path is Queries and key reads (the contract's rule)."""
    scanning = {}
    for name in SERVICE.functions:
        for statement in iam.role(SERVICE, name).statements:
            if "dynamodb:Scan" in statement.get("Action", []):
                scanning.setdefault(name, []).extend(statement["Resource"])

    table = "arn:aws:dynamodb:us-east-1:123456789012:table/test-"
    assert scanning == {
        "adminListUsers": [f"{table}users"],
        "adminListAvailabilities": [f"{table}availabilities"],
        "adminListMeetings": [f"{table}meetings"],
    }


def test_no_code_but_the_admin_lists_scans():
    calls_scan = {
        path.relative_to(ROOT).as_posix()
        for folder in ("api", "database", "handlers", "counters", "notifications", "payments")
        for path in (ROOT / folder).rglob("*.py")
        if ".scan(" in path.read_text()
    }

    assert calls_scan == {"database/admin.py"}
