"""End to end: `python -m local` in a subprocess, used the way a frontend uses the deployed stack
(sign-up and sign-in with the AWS SDK against the Cognito endpoint, then the API over HTTP)."""

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa
from local_stack import PASSWORD, ROOT, Stack, running_stack
from moto.utilities.utils import load_resource
from pycognito.aws_srp import AWSSRP

from local import serverless

COHORT = "1200-1300"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("local")) as started:
        yield started


@pytest.fixture(scope="module")
def alice(stack: Stack) -> dict[str, str]:
    return stack.sign_up_and_in("alice")


@pytest.fixture(scope="module")
def bob(stack: Stack) -> dict[str, str]:
    return stack.sign_up_and_in("bob", admin_confirm=True)


def test_config_describes_the_stack(stack: Stack):
    assert stack.config["apiUrl"].startswith("http://127.0.0.1:")
    assert stack.config["region"] == "us-east-1"
    assert stack.config["userPoolId"].startswith("us-east-1_")
    assert stack.config["userPoolClientId"]
    assert stack.config["cognitoEndpoint"].startswith(stack.config["apiUrl"])


def test_a_player_signs_up_books_and_meets(stack: Stack, alice, bob):
    # GIVEN two players just signed up: the PostConfirmation trigger created their profiles
    alice_token, bob_token = alice["IdToken"], bob["AccessToken"]  # either token type works
    status, _, profile = stack.call("GET", "/user", alice_token)
    assert (status, profile["username"], profile["dojoCohort"]) == (200, "alice", "")
    assert "email" not in profile
    assert stack.call("GET", "/user", bob_token)[2]["username"] == "bob"

    # WHEN both pick a cohort and alice offers a game
    for token, discord in ((alice_token, "alice#1"), (bob_token, "bob#2")):
        update = {"dojoCohort": COHORT, "discordUsername": discord}
        status, _, profile = stack.call("PUT", "/user", token, update)
        assert (status, profile["dojoCohort"]) == (200, COHORT)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    offer = {
        "owner": "alice",
        "ownerDiscord": "alice#1",
        "ownerCohort": COHORT,
        "startTime": start.isoformat(),
        "endTime": (start + timedelta(hours=2)).isoformat(),
        "types": ["CLASSICAL_GAME"],
        "cohorts": [COHORT],
    }
    status, _, availability = stack.call("PUT", "/availability", alice_token, offer)
    assert status == 200, availability
    assert stack.call("GET", "/availability", alice_token)[2]["availabilities"] == [availability]

    # THEN bob finds it, books it, and both see the meeting
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    status, _, found = stack.call("GET", f"/availability?byTime=1&startTime={now}", bob_token)
    assert (status, found["availabilities"]) == (200, [availability])
    booking = {
        "owner": "alice",
        "id": availability["id"],
        "startTime": availability["startTime"],
        "type": "CLASSICAL_GAME",
    }
    status, _, meeting = stack.call("PUT", "/availability/book", bob_token, booking)
    assert (status, meeting["participant"], meeting["owner"]) == (200, "bob", "alice")
    for token, opponent in ((alice_token, "bob"), (bob_token, "alice")):
        status, _, detail = stack.call("GET", f"/meeting/{meeting['id']}", token)
        assert (status, detail["meeting"], detail["opponent"]["username"]) == (
            200,
            meeting,
            opponent,
        )
        assert stack.call("GET", "/meeting", token)[2]["meetings"] == [meeting]
    assert stack.call("GET", f"/availability?byTime=1&startTime={now}", bob_token)[2] == {
        "availabilities": []
    }

    # AND anyone can read a public profile, without a token
    status, _, public = stack.call("GET", "/public/user/alice")
    assert (status, public["username"], public["discordUsername"]) == (200, "alice", "alice#1")

    # AND the meeting is on both calendars; bob cancels, and alice's slot is open again
    for token in (alice_token, bob_token):
        status, _, calendar = stack.call("GET", "/calendar", token)
        assert (status, calendar["meetings"]) == (200, [meeting])
    status, _, canceled = stack.call("PUT", f"/meeting/cancel/{meeting['id']}", bob_token)
    assert (status, canceled["status"]) == (200, "CANCELED")
    assert stack.call("GET", "/availability", alice_token)[2]["availabilities"] == [availability]
    status, _, calendar = stack.call("GET", "/calendar", alice_token)
    assert calendar["availabilities"] == [availability]
    assert [m["status"] for m in calendar["meetings"]] == ["CANCELED"]


def _moto_signed(claims: dict[str, Any]) -> str:
    """A token signed with the private key moto signs its Cognito tokens with."""
    key = jwt.PyJWK(load_resource("moto.cognitoidp", "resources/jwks-private.json")).key
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


def test_the_authorizer_rejects_what_api_gateway_rejects(stack: Stack, alice):
    token = alice["IdToken"]
    claims = jwt.decode(token, options={"verify_signature": False})
    unauthorized = (401, {"message": "Unauthorized"})

    # No token, or not a token
    assert _status_and_body(stack.call("GET", "/user")) == unauthorized
    assert _status_and_body(stack.call("GET", "/user", "not-a-jwt")) == unauthorized

    # A payload altered after signing: the signature no longer matches
    header, _, signature = token.split(".")
    altered = jwt.utils.base64url_encode(json.dumps({**claims, "cognito:username": "bob"}).encode())
    tampered = f"{header}.{altered.decode()}.{signature}"
    assert _status_and_body(stack.call("GET", "/user", tampered)) == unauthorized

    # Signed by another key
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "dummy"})
    assert _status_and_body(stack.call("GET", "/user", forged)) == unauthorized

    # Signed by the pool's own key but expired (the same token, unexpired, is accepted)
    now = int(time.time())
    fresh = _moto_signed({**claims, "iat": now - 60, "exp": now + 3600})
    assert stack.call("GET", "/user", fresh)[0] == 200
    expired = _moto_signed({**claims, "iat": now - 7200, "exp": now - 3600})
    assert _status_and_body(stack.call("GET", "/user", expired)) == unauthorized

    # Valid signature, but for another app client or another issuer
    for wrong in ({"aud": "another-client"}, {"iss": "https://cognito-idp.example/other"}):
        assert stack.call("GET", "/user", _moto_signed({**claims, **wrong}))[0] == 401

    # The "Bearer " prefix is optional, as with API Gateway
    status, _, _ = stack.call("GET", "/user", headers={"Authorization": token})
    assert status == 200


def test_srp_sign_in_checks_the_password(stack: Stack, alice):
    # pycognito's AWSSRP: the client side of Cognito's SRP, as amazon-cognito-identity-js does it
    cognito, pool_id, client_id = (
        stack.cognito(),
        stack.config["userPoolId"],
        stack.config["userPoolClientId"],
    )
    for login in ("alice", "alice@example.com"):  # the username, the verified email alias
        srp = AWSSRP(login, PASSWORD, pool_id, client_id, client=cognito)
        tokens = srp.authenticate_user()["AuthenticationResult"]
        status, _, profile = stack.call("GET", "/user", tokens["IdToken"])
        assert (status, profile["username"]) == (200, "alice")

        wrong = AWSSRP(login, PASSWORD + "x", pool_id, client_id, client=cognito)
        with pytest.raises(ClientError) as refused:
            wrong.authenticate_user()
        assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"

    # The refresh token of an SRP sign-in refreshes
    refreshed = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    assert stack.call("GET", "/user", refreshed["AccessToken"])[0] == 200


def test_srp_claims_are_checked_once_and_for_the_challenged_user(stack: Stack, alice, bob):
    cognito, pool_id, client_id = (
        stack.cognito(),
        stack.config["userPoolId"],
        stack.config["userPoolClientId"],
    )
    srp = AWSSRP("alice", PASSWORD, pool_id, client_id, client=cognito)
    parameters = srp.get_auth_params()
    challenge = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=parameters
    )["ChallengeParameters"]
    claim = srp.process_challenge(challenge, parameters)

    def respond(**changes: str) -> dict:
        return cognito.respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses={**claim, **changes},
        )

    with pytest.raises(ClientError) as refused:  # alice's claim does not sign bob in
        respond(USERNAME="bob")
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    with pytest.raises(ClientError) as refused:  # and a refused claim cannot be retried
        respond()
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"

    claim = srp.process_challenge(
        cognito.initiate_auth(
            ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=parameters
        )["ChallengeParameters"],
        parameters,
    )
    assert respond()["AuthenticationResult"]["IdToken"]
    with pytest.raises(ClientError) as refused:  # a used claim cannot be replayed
        respond()
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_password_sign_in_by_alias_and_wrong_password(stack: Stack, alice):
    cognito, client_id = stack.cognito(), stack.config["userPoolClientId"]
    result = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice@example.com", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert stack.call("GET", "/user", result["IdToken"])[2]["username"] == "alice"
    with pytest.raises(ClientError) as refused:
        cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": "Wrong-pass-1"},
        )
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


def _status_and_body(response: tuple[int, dict[str, str], Any]) -> tuple[int, Any]:
    return response[0], response[2]


def test_cors_preflight_and_headers(stack: Stack):
    status, headers, _ = stack.call(
        "OPTIONS",
        "/availability",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == "*"
    assert "PUT" in headers["access-control-allow-methods"].split(",")
    allowed = headers["access-control-allow-headers"].lower().split(",")
    assert {"authorization", "content-type"} <= set(allowed)
    for path in ("/public/user/nobody", "/user", "/nowhere"):  # 404 from the function, 401, 404
        assert stack.call("GET", path)[1]["access-control-allow-origin"] == "*"


def test_cors_preflight_of_the_cognito_endpoint(stack: Stack):
    # What amazon-cognito-identity-js and Amplify ask before each Cognito call from a browser
    path = stack.config["cognitoEndpoint"].removeprefix(stack.config["apiUrl"])
    requested = "content-type,x-amz-target,x-amz-user-agent"
    status, headers, _ = stack.call(
        "OPTIONS",
        path,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": requested,
        },
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == "*"
    assert "POST" in headers["access-control-allow-methods"].split(",")
    assert set(requested.split(",")) <= set(headers["access-control-allow-headers"].split(","))


def test_unknown_routes_are_api_gateways_404(stack: Stack):
    not_found = (404, {"message": "Not Found"})
    assert _status_and_body(stack.call("GET", "/nowhere")) == not_found
    # No route for the method: 404 before any authorizer, whatever the method
    assert _status_and_body(stack.call("POST", "/user", None, {})) == not_found
    for method in ("TRACE", "CONNECT", "PROPFIND"):
        assert _status_and_body(stack.call(method, "/user")) == not_found


def test_openapi_lists_exactly_the_routes_of_serverless_yml(stack: Stack):
    # `make run` has payments (against the Stripe stand-in without a Stripe key)
    service = serverless.load(ROOT / "serverless.yml", "local", frozenset({"payments"}))
    declared = {
        (route.method.lower(), route.path): bool(route.authorizer) for route in service.routes
    }
    status, _, document = stack.call("GET", "/_local/openapi.json")
    assert (status, document["openapi"]) == (200, "3.1.0")
    listed = {
        (method, path): "security" in operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert listed == declared
    schemas = document["components"]["schemas"]
    assert {"User", "Meeting", "ErrorBody", "MeetingPage"} <= set(schemas)
    assert any(name.startswith("BookingRequest") for name in schemas)


def test_the_log_has_one_line_per_request(stack: Stack):
    stack.call("GET", "/public/user/nobody")
    lines = stack.output.read_text().splitlines()
    assert any("GET /public/user/nobody 404" in line and "getUser" in line for line in lines)


def _discord(stack: Stack, until: Callable[[dict], Any], timeout: float = 10.0) -> dict:
    """What the Discord stand-in was sent, once `until(sent)` holds (the stream is polled
    every 0.5 s: a message shows within about a second)."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, sent = stack.call("GET", "/_local/discord")
        assert status == 200
        if until(sent) or time.monotonic() > deadline:
            return sent
        time.sleep(0.1)


def _to(sent: dict, name: str) -> list[str]:
    return [message["content"] for message in sent["directMessages"] if message["to"] == name]


def test_notifications_reach_the_local_discord(stack: Stack):
    # GIVEN two players with Discord names
    tokens = {}
    for name in ("nina", "oscar"):
        tokens[name] = stack.sign_up_and_in(name)["IdToken"]
        update = {"dojoCohort": COHORT, "discordUsername": f"{name}_dojo"}
        assert stack.call("PUT", "/user", tokens[name], update)[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    offer = {
        "owner": "nina",
        "ownerDiscord": "nina_dojo",
        "ownerCohort": COHORT,
        "startTime": start.isoformat(),
        "endTime": (start + timedelta(hours=2)).isoformat(),
        "types": ["CLASSICAL_GAME"],
        "cohorts": [COHORT],
    }

    # WHEN nina offers a game: it is announced in the channel
    status, _, availability = stack.call("PUT", "/availability", tokens["nina"], offer)
    assert status == 200, availability

    def announced(sent: dict) -> list[dict]:
        return [post for post in sent["channelPosts"] if "by nina\\_dojo" in post["content"]]

    sent = _discord(stack, announced)
    [post] = announced(sent)
    assert "deleted_at" not in post

    # AND oscar books it: nina hears of it, and the announcement is deleted
    booking = {
        "owner": "nina",
        "id": availability["id"],
        "startTime": availability["startTime"],
        "type": "CLASSICAL_GAME",
    }
    status, _, meeting = stack.call("PUT", "/availability/book", tokens["oscar"], booking)
    assert status == 200, meeting
    sent = _discord(
        stack, lambda sent: _to(sent, "nina_dojo") and "deleted_at" in announced(sent)[0]
    )
    assert _to(sent, "nina_dojo") == [
        f"oscar booked your availability: Classical game on <t:{int(start.timestamp())}:f>.\n"
        f"http://localhost:3000/meeting/{meeting['id']}"
    ]
    assert "deleted_at" in announced(sent)[0]

    # AND nina cancels: oscar is told, nina is not
    status, _, _ = stack.call("PUT", f"/meeting/cancel/{meeting['id']}", tokens["nina"])
    assert status == 200
    sent = _discord(stack, lambda sent: _to(sent, "oscar_dojo"))
    [told] = _to(sent, "oscar_dojo")
    assert told.startswith("nina canceled your meeting on")
    assert len(_to(sent, "nina_dojo")) == 1

    # AND oscar joins nina's group session: nina hears of it
    group = {**offer, "maxParticipants": 3, "startTime": (start + timedelta(days=1)).isoformat()}
    group["endTime"] = (start + timedelta(days=1, hours=2)).isoformat()
    status, _, session = stack.call("PUT", "/availability", tokens["nina"], group)
    assert status == 200, session
    join = {"owner": "nina", "id": session["id"]}
    assert stack.call("PUT", "/availability/book", tokens["oscar"], join)[0] == 200
    sent = _discord(stack, lambda sent: len(_to(sent, "nina_dojo")) == 2)
    assert "joined your group session" in _to(sent, "nina_dojo")[1]

    # AND each message is a line in the terminal
    lines = stack.output.read_text().splitlines()
    assert any("Discord DM to nina_dojo: oscar booked your availability" in line for line in lines)
    assert any("Discord DM to oscar_dojo: nina canceled your meeting" in line for line in lines)
