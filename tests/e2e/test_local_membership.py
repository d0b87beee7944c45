"""`MEMBERSHIP=1 make run`: membership on against the stand-in shop (local/shop.py), used as a
frontend and a developer would: sign-up through the Cognito endpoint (so createUser asks the
shop through membership/shop.py, unchanged), the API with each player's token, and the shop's
control routes under /_local/shop."""

import json
import time
import urllib.error
import urllib.request

import pytest
from local_stack import Stack, running_stack

from local.seed import DEMO_PASSWORD

SHOP = "/_local/shop"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("local"), {"MEMBERSHIP": "1", "SEED": "1"}) as s:
        deadline = time.monotonic() + 60
        while "is running locally" not in s.output.read_text():  # the demo data is in
            assert time.monotonic() < deadline, s.output.read_text()
            time.sleep(0.2)
        yield s


def token_of(stack: Stack, username: str, password: str) -> str:
    return stack.cognito().initiate_auth(
        ClientId=stack.config["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]["IdToken"]


def shop(stack: Stack, method: str, path: str = "") -> dict:
    status, _, answer = stack.call(method, SHOP + path)
    assert status == 200, answer
    return answer


def test_the_demo_player_is_a_member(stack):
    token = token_of(stack, "demo", DEMO_PASSWORD)

    assert stack.call("GET", "/user", token)[2]["subscriptionStatus"] == "SUBSCRIBED"
    assert stack.call("GET", "/user/access", token)[:3:2] == (
        200,
        {"subscriptionStatus": "SUBSCRIBED"},
    )
    assert "demo@example.com" in shop(stack, "GET")["members"]


def test_the_shop_answers_its_own_path_in_its_own_shapes(stack):
    shop(stack, "PUT", "/members/shape@example.com")

    def ask(email: str, key: str = "local") -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"{stack.config['apiUrl']}{SHOP}/_functions/user/{email}", headers={"Auth": key}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    status, answer = ask("shape@example.com")
    customer = json.loads(answer)
    assert status == 200 and set(customer) == {"user", "subscriptions"}
    assert set(customer["user"]) == {"_id"} and len(customer["subscriptions"]) == 1
    shop(stack, "DELETE", "/members/shape@example.com")
    assert json.loads(ask("shape@example.com")[1])["subscriptions"] == []
    assert ask("nobody@example.com")[0] == 404
    assert ask("shape@example.com", key="wrong")[0] == 401


def test_a_sign_up_while_the_shop_is_down_gets_in_and_is_checked_again(stack):
    shop(stack, "POST", "/outage?seconds=60")
    try:
        token = stack.sign_up_and_in("outage")["IdToken"]  # the sign-up goes through
        assert stack.call("GET", "/user", token)[2]["subscriptionStatus"] == "FREE_TIER"
        status, _, answer = stack.call("GET", "/user/access", token)
        assert status == 403 and "could not be reached" in answer["message"]
    finally:
        shop(stack, "POST", "/outage?seconds=0")
    calls = [c for c in shop(stack, "GET")["calls"] if c["email"] == "outage@example.com"]
    assert [c["status"] for c in calls] == [503, 503]  # sign-up, then the first access check


def test_a_member_found_after_an_outage_is_subscribed_at_the_next_check(stack):
    shop(stack, "POST", "/outage?seconds=60")
    try:
        token = stack.sign_up_and_in("later")["IdToken"]
    finally:
        shop(stack, "POST", "/outage?seconds=0")
    shop(stack, "PUT", "/members/later@example.com")

    assert stack.call("GET", "/user/access", token)[0] == 200
    assert stack.call("GET", "/user", token)[2]["subscriptionStatus"] == "SUBSCRIBED"


def test_free_players_book_only_what_is_open_to_them(stack):
    owner = token_of(stack, "demo", DEMO_PASSWORD)
    free = stack.sign_up_and_in("freebie")["IdToken"]
    stack.call("PUT", "/user", free, {"dojoCohort": "1200-1300"})
    assert stack.call("GET", "/user", free)[2]["subscriptionStatus"] == "FREE_TIER"
    ids = {}
    for day, name, is_open in ((1, "closed", False), (2, "open", True)):
        status, _, published = stack.call(
            "PUT",
            "/availability",
            owner,
            {
                "owner": "demo",
                "ownerDiscord": "demo_dojo",
                "ownerCohort": "1200-1300",
                "startTime": f"2031-01-0{day}T09:00:00Z",
                "endTime": f"2031-01-0{day}T12:00:00Z",
                "types": ["CLASSICAL_GAME"],
                "cohorts": ["ALL_COHORTS"],
                "bookableByFreeUsers": is_open,
            },
        )
        assert status == 200 and published["bookableByFreeUsers"] is is_open
        ids[name] = published

    def book(availability: dict) -> tuple[int, dict]:
        status, _, answer = stack.call(
            "PUT",
            "/availability/book",
            free,
            {
                "owner": "demo",
                "id": availability["id"],
                "startTime": availability["startTime"],
                "type": "CLASSICAL_GAME",
            },
        )
        return status, answer

    assert book(ids["closed"]) == (403, {"code": 403, "message": "This session is for members"})
    assert book(ids["open"])[0] == 200
