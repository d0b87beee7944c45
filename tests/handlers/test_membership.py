"""Membership from the club's shop (contract v3, "Membership"), end to end through the handlers:
sign-up (createUser asks the shop), GET /user, GET /user/access (re-checks at most once a
minute, one shop call however many ask at once), the free player's limit on booking and joining,
and a stage without a shop (simple), where nothing changes.

No network: the shop is mocked with `responses` in the answers the original backend read
(backend/user/access/access.go, scripts/blocked_users.py): 200 `{"user": {"_id"},
"subscriptions": [{"_id"}, ...]}`, 404 for an unknown email; its key is read from a Secrets
Manager secret in moto.
"""

import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import unquote

import pytest
import requests
import responses
from urllib3.util import Timeout

from api.secrets import clear_caches
from database.client import from_item, to_item
from database.times import now
from handlers.availability import book
from handlers.user import access, create
from handlers.user import get as get_user
from membership import check, settings, shop
from support import (
    add_user,
    availability,
    body,
    http_event,
    post_confirmation_event,
    put_secret,
    snapshot,
)
from support import publish as store
from support import uuid as fixture_id

SECRET_NAME = "dojo-scheduler/test/shop"
KEY = "wix-test-key"
SHOP = "https://shop.example"
USER_PATH = re.compile(rf"{re.escape(SHOP)}/_functions/user/(?P<email>[^/?]+)$")
A1 = fixture_id("a1")
BOOKING = {
    "owner": "alice",
    "id": A1,
    "startTime": "2030-01-01T10:00:00Z",
    "type": "CLASSICAL_GAME",
}


class Shop:
    """The club's shop as `responses` serves it: customers by email, with or without an active
    subscription; every call recorded."""

    def __init__(self, mock: responses.RequestsMock):
        self.mock = mock
        self.customers: dict[str, bool] = {}  # email -> holds an active subscription
        self.calls: list[str] = []  # the emails asked about
        self._lock = threading.Lock()
        mock.add_callback(responses.GET, USER_PATH, self._user)

    def _user(self, request):
        if request.headers.get("Auth") != KEY:
            return 401, {}, json.dumps({"message": "Unauthorized"})
        email = unquote(USER_PATH.match(request.url)["email"])
        with self._lock:
            self.calls.append(email)
        if email not in self.customers:
            return 404, {}, json.dumps({"message": f"user {email} not found"})
        subscriptions = [{"_id": str(uuid.uuid4())}] if self.customers[email] else []
        answer = {"user": {"_id": str(uuid.uuid4())}, "subscriptions": subscriptions}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    def fails_with(self, **answer) -> None:
        """Every call answers `answer` (a status, or `body=<exception>`) from now on."""
        self.mock.remove(responses.GET, USER_PATH)
        self.mock.add(responses.GET, USER_PATH, **answer)


@pytest.fixture
def membership_on(tables, monkeypatch):
    """A stage with a shop: its key in Secrets Manager (moto), read by name."""
    put_secret(SECRET_NAME, {"wixApiKey": KEY})
    monkeypatch.setenv("SHOP_SECRET_NAME", SECRET_NAME)
    monkeypatch.setenv("SHOP_URL", SHOP + "/")
    clear_caches()  # the key is cached per container
    yield tables
    clear_caches()


@pytest.fixture
def the_shop(membership_on):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Shop(mock)


def sign_up(username: str, email: str) -> dict:
    event = post_confirmation_event(username, email=email)
    assert create.handler(event, None) == event  # Cognito lets the player in
    return event


def stored(tables, username: str) -> dict:
    item = tables.get_item(TableName="test-users", Key=to_item({"username": username}))
    return from_item(item["Item"])


def status_of(username: str) -> str:
    return body(get_user.handler(http_event("GET /user", caller=username)))["subscriptionStatus"]


def check_access(username: str) -> tuple[int, dict]:
    response = access.handler(http_event("GET /user/access", caller=username))
    return response["statusCode"], body(response)


# --- sign-up -------------------------------------------------------------------------------


def test_a_member_signs_up_subscribed(the_shop, tables):
    the_shop.customers["bob@example.com"] = True

    sign_up("bob", "bob@example.com")

    item = stored(tables, "bob")
    assert item["subscriptionStatus"] == "SUBSCRIBED"
    assert item["membershipPending"] is False
    assert abs(item["membershipCheckedAt"] - now().timestamp()) < 60
    assert the_shop.calls == ["bob@example.com"]
    [call] = the_shop.mock.calls
    assert call.request.url == f"{SHOP}/_functions/user/bob@example.com"
    assert call.request.headers["Auth"] == KEY
    assert status_of("bob") == "SUBSCRIBED"


@pytest.mark.parametrize("customer", [None, False], ids=["unknown to the shop", "no subscription"])
def test_a_player_without_a_subscription_signs_up_free(the_shop, tables, customer):
    if customer is not None:
        the_shop.customers["bob@example.com"] = customer

    sign_up("bob", "bob@example.com")

    item = stored(tables, "bob")
    assert (item["subscriptionStatus"], item["membershipPending"]) == ("FREE_TIER", False)
    assert status_of("bob") == "FREE_TIER"


def test_an_email_is_asked_about_as_one_path_segment(the_shop, tables):
    the_shop.customers["bob+chess@example.com"] = True

    sign_up("bob", "bob+chess@example.com")

    assert the_shop.mock.calls[0].request.url.endswith("/_functions/user/bob%2Bchess@example.com")
    assert stored(tables, "bob")["subscriptionStatus"] == "SUBSCRIBED"


OUTAGES = {
    "503": {"status": 503, "body": "upstream down"},
    "500": {"status": 500, "json": {"message": "Internal error"}},
    "timeout": {"body": requests.exceptions.ReadTimeout("read timed out")},
    "connect timeout": {"body": requests.exceptions.ConnectTimeout("connect timed out")},
    "connection refused": {"body": requests.exceptions.ConnectionError("refused")},
    "key refused": {"status": 401, "json": {"message": "Unauthorized"}},
    "not the shop's answer": {"status": 200, "body": "<html>maintenance</html>"},
}


@pytest.mark.parametrize("outage", OUTAGES.values(), ids=OUTAGES.keys())
def test_a_sign_up_during_an_outage_lets_the_player_in_free_and_pending(the_shop, tables, outage):
    the_shop.customers["bob@example.com"] = True
    the_shop.fails_with(**outage)

    sign_up("bob", "bob@example.com")  # returns the event: the sign-up goes through

    item = stored(tables, "bob")
    assert (item["subscriptionStatus"], item["membershipPending"]) == ("FREE_TIER", True)
    assert "membershipCheckedAt" not in item  # so the first GET /user/access asks at once
    assert status_of("bob") == "FREE_TIER"


def test_a_sign_up_without_the_shops_key_lets_the_player_in_pending(the_shop, tables, monkeypatch):
    monkeypatch.setenv("SHOP_SECRET_NAME", "dojo-scheduler/test/no-such-secret")

    sign_up("bob", "bob@example.com")

    assert stored(tables, "bob")["membershipPending"] is True
    assert the_shop.calls == []


def test_a_second_confirmation_asks_nothing_new_of_the_profile(the_shop, tables):
    the_shop.customers["bob@example.com"] = True
    sign_up("bob", "bob@example.com")
    del the_shop.customers["bob@example.com"]

    sign_up("bob", "bob@example.com")

    assert stored(tables, "bob")["subscriptionStatus"] == "SUBSCRIBED"  # created once


def test_the_shop_call_fits_in_cognitos_trigger_budget(the_shop, monkeypatch):
    """Cognito waits 5 s for a trigger. The sign-up's outbound work is bounded by configuration,
    not by luck: the secret's one attempt and the shop's one attempt, each with a total time
    limit, leave time for the profile's PutItem."""
    configs = []
    read = shop.stage_secret
    monkeypatch.setattr(shop, "stage_secret", lambda n, c: configs.append(c) or read(n, c))
    assert shop.SECRET_CONFIG.retries == {"mode": "standard", "total_max_attempts": 1}
    assert shop.SECRET_CONFIG.connect_timeout + shop.SECRET_CONFIG.read_timeout == (
        shop.SECRET_SECONDS
    )
    assert shop.SHOP_SECONDS == 3.0
    for adapter in shop._session().adapters.values():
        assert adapter.max_retries.total == shop.SHOP_RETRIES == 0
    worst_case = shop.SECRET_SECONDS + shop.SHOP_SECONDS * (1 + shop.SHOP_RETRIES)
    assert worst_case <= 4.5 < 5

    the_shop.customers["bob@example.com"] = True
    shop.subscription_status("bob@example.com")
    sent = the_shop.mock.calls[0].request.req_kwargs["timeout"]
    assert isinstance(sent, Timeout) and sent.total == shop.SHOP_SECONDS  # connect + read
    assert configs == [shop.SECRET_CONFIG]  # the secret read with the bounded client


# --- GET /user/access ----------------------------------------------------------------------


def test_access_answers_a_member_and_a_free_player(the_shop, tables):
    the_shop.customers.update({"bob@example.com": True, "carol@example.com": False})
    sign_up("bob", "bob@example.com")
    sign_up("carol", "carol@example.com")

    assert check_access("bob") == (200, {"subscriptionStatus": "SUBSCRIBED"})
    status, answer = check_access("carol")
    assert status == 403 and answer["code"] == 403
    assert answer["message"] == access.NOT_A_MEMBER
    assert len(the_shop.calls) == 2  # checked at sign-up: not again within the minute


def test_access_after_an_outage_asks_again_at_once(the_shop, tables):
    the_shop.customers["bob@example.com"] = True
    the_shop.fails_with(status=503)
    sign_up("bob", "bob@example.com")
    assert check_access("bob") == (403, {"code": 403, "message": access.PENDING})

    the_shop.mock.remove(responses.GET, USER_PATH)
    the_shop.mock.add_callback(responses.GET, USER_PATH, the_shop._user)
    assert check_access("bob") == (403, {"code": 403, "message": access.PENDING})  # < 1 min

    later = now() + timedelta(seconds=settings.RECHECK_SECONDS)
    with pytest.MonkeyPatch.context() as clock:
        clock.setattr(check, "now", lambda: later)
        assert check_access("bob") == (200, {"subscriptionStatus": "SUBSCRIBED"})
    item = stored(tables, "bob")
    assert (item["subscriptionStatus"], item["membershipPending"]) == ("SUBSCRIBED", False)
    assert status_of("bob") == "SUBSCRIBED"


def test_a_canceled_subscription_is_seen_at_most_a_minute_later(the_shop, tables, monkeypatch):
    the_shop.customers["bob@example.com"] = True
    # The sign-up's check is stored in whole seconds: a start on a whole second, frozen through
    # the sign-up, so "59 s later" is 59 s after the stored check, never 59.x.
    start = now().replace(microsecond=0)
    monkeypatch.setattr(check, "now", lambda: start)
    sign_up("bob", "bob@example.com")
    the_shop.customers["bob@example.com"] = False

    for seconds, expected in [(1, 200), (59, 200), (60, 403), (61, 403)]:
        monkeypatch.setattr(check, "now", lambda s=seconds: start + timedelta(seconds=s))
        assert check_access("bob")[0] == expected, seconds

    assert the_shop.calls == ["bob@example.com"] * 2  # sign-up, then at 60 s; not at 61 s
    assert stored(tables, "bob")["subscriptionStatus"] == "FREE_TIER"


def test_an_outage_never_demotes_a_member(the_shop, tables, monkeypatch):
    the_shop.customers["bob@example.com"] = True
    sign_up("bob", "bob@example.com")
    the_shop.fails_with(status=503)
    monkeypatch.setattr(check, "now", lambda: now() + timedelta(minutes=5))

    assert check_access("bob") == (200, {"subscriptionStatus": "SUBSCRIBED"})
    item = stored(tables, "bob")
    assert (item["subscriptionStatus"], item["membershipPending"]) == ("SUBSCRIBED", True)


def test_concurrent_access_checks_ask_the_shop_once(the_shop, atomic_moto, monkeypatch):
    the_shop.customers["bob@example.com"] = True
    the_shop.fails_with(status=503)
    sign_up("bob", "bob@example.com")  # pending: the next check is due at once
    the_shop.mock.remove(responses.GET, USER_PATH)
    the_shop.mock.add_callback(responses.GET, USER_PATH, the_shop._user)
    the_shop.calls.clear()
    start = threading.Barrier(8)

    def ask(_):
        start.wait()
        return check_access("bob")[0]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(ask, range(8)))

    assert the_shop.calls == ["bob@example.com"]
    assert 200 in statuses and set(statuses) <= {200, 403}
    assert stored(atomic_moto, "bob")["subscriptionStatus"] == "SUBSCRIBED"


def test_access_for_a_player_without_a_profile_is_404(the_shop):
    assert check_access("nobody")[0] == 404
    assert the_shop.calls == []


def test_access_without_claims_is_401(the_shop):
    response = access.handler(http_event("GET /user/access", caller=None))
    assert response["statusCode"] == 401


# --- free players book what is open to them ------------------------------------------------


def publish(**overrides) -> dict:
    """alice's availability A1 as created with `overrides` (the API issues ids: it is stored as
    the API stores it, through the same record)."""
    from database.client import dynamodb

    return store(dynamodb(), availability(id=A1, **overrides))


@pytest.fixture
def players(membership_on):
    add_user(membership_on, "alice")
    add_user(membership_on, "member", subscriptionStatus="SUBSCRIBED")
    add_user(membership_on, "free", subscriptionStatus="FREE_TIER")
    return membership_on


def book_as(caller: str, booking: dict | None = None) -> dict:
    return book.handler(
        http_event("PUT /availability/book", caller=caller, body=booking or BOOKING)
    )


def test_an_availability_is_for_members_unless_opened_to_free_players(players):
    assert publish()["bookableByFreeUsers"] is False
    assert publish(bookableByFreeUsers=True)["bookableByFreeUsers"] is True


@pytest.mark.parametrize("group", [False, True], ids=["book", "join"])
def test_a_free_player_cannot_book_or_join_a_members_session(players, group):
    publish(maxParticipants=3 if group else 1)
    before = snapshot(players)

    response = book_as("free", {"owner": "alice", "id": A1} if group else None)

    assert response["statusCode"] == 403
    assert body(response) == {"code": 403, "message": "This session is for members"}
    assert snapshot(players) == before


@pytest.mark.parametrize("group", [False, True], ids=["book", "join"])
def test_a_free_player_books_or_joins_a_session_open_to_them(players, group):
    publish(maxParticipants=3 if group else 1, bookableByFreeUsers=True)

    response = book_as("free", {"owner": "alice", "id": A1} if group else None)

    assert response["statusCode"] == 200, body(response)


@pytest.mark.parametrize("group", [False, True], ids=["book", "join"])
def test_a_member_books_or_joins_any_session(players, group):
    publish(maxParticipants=3 if group else 1)

    response = book_as("member", {"owner": "alice", "id": A1} if group else None)

    assert response["statusCode"] == 200, body(response)


def test_a_player_from_before_membership_is_a_member(players):
    add_user(players, "old")  # no subscriptionStatus: signed up before the shop was asked
    publish()
    assert book_as("old")["statusCode"] == 200


def test_an_availability_from_before_the_flag_is_for_members_and_still_bookable(players):
    item = {k: v for k, v in publish().items() if k != "bookableByFreeUsers"}
    item.update(participants={}, participantCount=0)
    players.put_item(TableName="test-availabilities", Item=to_item(item))

    assert book_as("free")["statusCode"] == 403
    assert book_as("member")["statusCode"] == 200  # its condition: absent is the default


def test_the_free_players_limit_costs_no_extra_call(players):
    publish()
    calls = []
    players.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )

    assert book_as("free")["statusCode"] == 403
    assert calls == ["BatchGetItem"]
    calls.clear()
    assert book_as("member")["statusCode"] == 200
    assert calls == ["BatchGetItem", "TransactWriteItems"]


# --- a stage without a shop (simple) -------------------------------------------------------


def test_without_a_shop_nothing_is_asked_and_the_profile_is_as_before(tables):
    with responses.RequestsMock() as mock:  # any call to anywhere would fail the test
        sign_up("bob", "bob@example.com")
        assert len(mock.calls) == 0

    assert stored(tables, "bob") == {
        "username": "bob",
        "email": "bob@example.com",
        "name": "Alice Example",
    }
    assert status_of("bob") == "SUBSCRIBED"


def test_without_a_shop_every_player_is_a_member(tables):
    add_user(tables, "alice")
    add_user(tables, "free", subscriptionStatus="FREE_TIER")  # left from a stage with a shop
    publish()

    assert status_of("free") == "SUBSCRIBED"
    assert book_as("free")["statusCode"] == 200


def test_the_owner_opens_an_availability_to_free_players_through_the_api(players):
    from handlers.availability import set as set_availability

    created = set_availability.handler(
        http_event("PUT /availability", body=availability(bookableByFreeUsers=True))
    )
    assert created["statusCode"] == 200, created
    assert body(created)["bookableByFreeUsers"] is True
    default = set_availability.handler(http_event("PUT /availability", body=availability()))
    assert body(default)["bookableByFreeUsers"] is False
