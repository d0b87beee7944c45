"""createUser (the PostConfirmation trigger), getUser and setUser."""

import pytest

from handlers.user import create, get
from handlers.user import set as set_user
from support import add_user, body, http_event, post_confirmation_event, snapshot

PUBLIC_FIELDS = {"username", "discordUsername", "chesscomUsername", "lichessUsername", "dojoCohort"}


def stored_user(client, username):
    return client.get_item(TableName="test-users", Key={"username": {"S": username}}).get("Item")


# createUser


def test_confirmation_creates_the_user_and_returns_the_event(tables):
    # GIVEN a Cognito PostConfirmation event for a new sign-up
    event = post_confirmation_event("alice", email="alice@example.com", name="Alice Example")

    # WHEN the trigger runs
    result = create.handler(event, None)

    # THEN it returns the event unchanged and the user exists with email and name stored
    assert result == post_confirmation_event("alice", name="Alice Example")
    item = stored_user(tables, "alice")
    assert item["username"] == {"S": "alice"}
    assert item["email"] == {"S": "alice@example.com"}
    assert item["name"] == {"S": "Alice Example"}


def test_second_confirmation_does_not_overwrite_the_profile(tables):
    create.handler(post_confirmation_event("alice"), None)
    set_user.handler(http_event("PUT /user", body={"dojoCohort": "1200-1300"}), None)

    result = create.handler(post_confirmation_event("alice", email="other@example.com"), None)

    assert result["userName"] == "alice"
    item = stored_user(tables, "alice")
    assert item["dojoCohort"] == {"S": "1200-1300"}
    assert item["email"] == {"S": "alice@example.com"}


@pytest.mark.parametrize(
    "source", ["PostConfirmation_ConfirmForgotPassword", "PreSignUp_SignUp", None]
)
def test_other_trigger_sources_do_nothing(tables, source):
    event = post_confirmation_event("alice")
    event["triggerSource"] = source

    assert create.handler(event, None) == event
    assert stored_user(tables, "alice") is None


# getUser


def test_get_user_returns_the_callers_public_profile(tables):
    add_user(tables, "alice", discordUsername="alice#1", name="Alice Example")

    response = get.handler(http_event("GET /user"), None)

    assert response["statusCode"] == 200
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"
    assert body(response) == {
        "username": "alice",
        "discordUsername": "alice#1",
        "chesscomUsername": "",
        "lichessUsername": "",
        "dojoCohort": "1500-1600",
        # version 2: the caller's own settings (never on the public route)
        "disableBookingNotifications": False,
        "disableCancellationNotifications": False,
        # version 3: a member (every player, on a stage without the club's shop)
        "subscriptionStatus": "SUBSCRIBED",
        "isAdmin": False,
        # version 4: the player's zone and, as a coach, their daily limit (none)
        "timezone": "UTC",
        "maxBookingsPerDay": 0,
        "reminderMinutes": [60],
        "disableReminderEmails": False,
    }


def test_public_profile_needs_no_sign_in_and_hides_email_and_name(tables):
    add_user(tables, "bob", name="Bob Example")

    response = get.handler(
        http_event("GET /public/user/{username}", caller=None, path={"username": "bob"}), None
    )

    assert response["statusCode"] == 200
    assert set(body(response)) == PUBLIC_FIELDS
    assert body(response)["username"] == "bob"


def test_unknown_user_is_404(tables):
    response = get.handler(http_event("GET /user", caller="nobody"), None)

    assert response["statusCode"] == 404
    assert body(response) == {"code": 404, "message": "User not found"}


@pytest.mark.parametrize("claims", [{}, {"cognito:username": ""}, {"cognito:username": "  "}])
def test_missing_caller_is_401(tables, claims):
    add_user(tables, "alice")
    event = http_event("GET /user")
    event["requestContext"]["authorizer"]["jwt"]["claims"] = claims

    response = get.handler(event, None)

    assert response["statusCode"] == 401
    assert body(response) == {"code": 401, "message": "Unauthorized"}


def test_access_token_username_claim_identifies_the_caller(tables):
    add_user(tables, "alice")
    event = http_event("GET /user")
    event["requestContext"]["authorizer"]["jwt"]["claims"] = {"username": "alice"}

    assert body(get.handler(event, None))["username"] == "alice"


# setUser


def test_set_user_changes_only_the_given_public_fields(tables):
    add_user(tables, "alice", discordUsername="alice#1", name="Alice Example")

    response = set_user.handler(
        http_event("PUT /user", body={"lichessUsername": "alice_l", "dojoCohort": "2400+"}), None
    )

    assert response["statusCode"] == 200
    assert body(response) == {
        "username": "alice",
        "discordUsername": "alice#1",
        "chesscomUsername": "",
        "lichessUsername": "alice_l",
        "dojoCohort": "2400+",
        "disableBookingNotifications": False,
        "disableCancellationNotifications": False,
        "subscriptionStatus": "SUBSCRIBED",
        "isAdmin": False,
        # version 4: the player's zone and, as a coach, their daily limit (none)
        "timezone": "UTC",
        "maxBookingsPerDay": 0,
        "reminderMinutes": [60],
        "disableReminderEmails": False,
    }
    item = stored_user(tables, "alice")
    assert item["name"] == {"S": "Alice Example"}
    assert item["email"] == {"S": "alice@example.com"}


def test_set_user_cannot_change_email_or_name(tables):
    add_user(tables, "alice", name="Alice Example")

    response = set_user.handler(
        http_event("PUT /user", body={"email": "evil@example.com", "name": "Mallory"}), None
    )

    assert response["statusCode"] == 200
    item = stored_user(tables, "alice")
    assert item["email"] == {"S": "alice@example.com"}
    assert item["name"] == {"S": "Alice Example"}


def test_set_user_with_someone_elses_username_changes_nobody(tables):
    add_user(tables, "alice")
    add_user(tables, "someone-else", discordUsername="theirs")
    before = snapshot(tables)

    response = set_user.handler(
        http_event("PUT /user", body={"username": "someone-else", "discordUsername": "mine"}),
        None,
    )

    assert response["statusCode"] == 400
    assert "username" in body(response)["message"]
    assert snapshot(tables) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"dojoCohort": "3000+"}, "dojoCohort"),
        ({"dojoCohort": ""}, "dojoCohort"),
        ({"discordUsername": 5}, "discordUsername"),
        ({"discordUsername": "x" * 101}, "discordUsername"),
        ("not json", "JSON"),
        ([1, 2], "object"),
        ("", "body"),
    ],
)
def test_invalid_profile_is_400_and_changes_nothing(tables, payload, field):
    add_user(tables, "alice")
    before = snapshot(tables)

    response = set_user.handler(http_event("PUT /user", body=payload), None)

    assert response["statusCode"] == 400
    assert field in body(response)["message"]
    assert snapshot(tables) == before


def test_set_user_for_an_unknown_caller_is_404_and_creates_nothing(tables):
    response = set_user.handler(
        http_event("PUT /user", caller="ghost", body={"dojoCohort": "0-400"}), None
    )

    assert response["statusCode"] == 404
    assert stored_user(tables, "ghost") is None


def test_set_user_without_claims_is_401(tables):
    response = set_user.handler(http_event("PUT /user", caller=None, body={}), None)

    assert response["statusCode"] == 401


def test_an_unexpected_error_is_a_generic_500(tables, monkeypatch):
    def broken(username):
        raise RuntimeError("arn:aws:dynamodb:...:table/test-users exploded")

    monkeypatch.setattr(get, "require_user", broken)

    response = get.handler(http_event("GET /user"), None)

    assert response["statusCode"] == 500
    assert body(response) == {"code": 500, "message": "Temporary server error"}
