"""getMeeting and listMeetings."""

import pytest

from database.client import to_item
from handlers.meeting import get
from handlers.meeting import list as list_meetings
from support import add_user, body, http_event, uuid

M1 = uuid("m1")


def add_meeting(client, meeting_id, owner, participant, start="2030-01-01T09:00:00.000Z"):
    item = {
        "id": meeting_id,
        "owner": owner,
        "participant": participant,
        "startTime": start,
        "type": "CLASSICAL_GAME",
        "expirationTime": 1893628800,
    }
    client.put_item(TableName="test-meetings", Item=to_item(item))


@pytest.fixture
def members(tables):
    add_user(tables, "alice", discordUsername="alice#1", name="Alice Example")
    add_user(tables, "bob", discordUsername="bob#2", name="Bob Example")
    add_meeting(tables, M1, owner="alice", participant="bob")
    return tables


def get_meeting(meeting_id, caller):
    return get.handler(
        http_event("GET /meeting/{id}", caller=caller, path={"id": meeting_id}), None
    )


@pytest.mark.parametrize(("caller", "opponent"), [("alice", "bob"), ("bob", "alice")])
def test_a_member_gets_the_meeting_and_the_opponents_public_profile(members, caller, opponent):
    response = get_meeting(M1, caller)

    assert response["statusCode"] == 200
    result = body(response)
    assert result["meeting"] == {
        "owner": "alice",
        "participant": "bob",
        "id": M1,
        "startTime": "2030-01-01T09:00:00.000Z",
        "type": "CLASSICAL_GAME",
        # version 2; a version 1 meeting item has none of them
        "location": "",
        "description": "",
        "status": "SCHEDULED",
    }
    assert result["opponent"]["username"] == opponent
    assert "email" not in result["opponent"]
    assert "name" not in result["opponent"]


def test_a_non_member_is_403(members):
    response = get_meeting(M1, "carol")

    assert response["statusCode"] == 403
    assert body(response)["code"] == 403


def test_a_missing_meeting_is_404(members):
    assert get_meeting(uuid("nope"), "alice")["statusCode"] == 404


def test_get_meeting_without_claims_is_401(members):
    assert get_meeting(M1, None)["statusCode"] == 401


def test_list_returns_meetings_on_both_sides(members):
    add_meeting(members, "m2", owner="bob", participant="alice")
    add_meeting(members, "m3", owner="bob", participant="carol")

    response = list_meetings.handler(http_event("GET /meeting", caller="alice"), None)

    assert response["statusCode"] == 200
    result = body(response)
    assert sorted(m["id"] for m in result["meetings"]) == [M1, "m2"]
    assert "lastEvaluatedKey" not in result
    assert "expirationTime" not in result["meetings"][0]


@pytest.mark.parametrize(
    "query", [{"limit": "x"}, {"limit": "0"}, {"startKey": "bm9wZQ"}, {"startKey": "!"}]
)
def test_invalid_list_query_is_400(members, query):
    response = list_meetings.handler(http_event("GET /meeting", caller="alice", query=query), None)

    assert response["statusCode"] == 400


def test_another_members_start_key_is_400(members):
    add_meeting(members, "m2", owner="alice", participant="carol")
    first = body(
        list_meetings.handler(
            http_event("GET /meeting", caller="alice", query={"limit": "1"}), None
        )
    )

    response = list_meetings.handler(
        http_event("GET /meeting", caller="bob", query={"startKey": first["lastEvaluatedKey"]}),
        None,
    )

    assert response["statusCode"] == 400
    assert "startKey" in body(response)["message"]
