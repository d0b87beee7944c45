"""Stripe's request contract (local/stripe_contract.py): derived from the pinned stripe-python,
it refuses what Stripe refuses and accepts what payments/stripe_client.py sends.

Requests are encoded by stripe-python's own form encoder, as the library sends them; the calls
of our code go through a `responses` mock, where conftest.py installs the contract."""

import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
import responses
import stripe
from stripe._encode import _api_encode

from api.secrets import clear_caches
from database.models import Meeting, Price
from local import stripe_contract
from local.stripe_contract import API_VERSION, Ledger, Refusal, check, decode, route_of
from payments import stripe_client
from support import put_secret

HEADERS = {"Stripe-Version": API_VERSION}
API = "https://api.stripe.com/v1"
NOW = 1_900_000_000


def form(params: dict) -> dict:
    """`params` as Stripe receives them: stripe-python's form encoding, decoded."""
    return decode(urlencode(list(_api_encode(params))))


def checkout(**overrides) -> dict:
    """A Checkout Session create as our code makes one (payments/stripe_client.py)."""
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 5000,
                    "product_data": {"name": "Coaching session with alice"},
                },
            }
        ],
        "allowed_payment_method_types": ["card"],
        "payment_intent_data": {
            "transfer_data": {"destination": "acct_coach"},
            "metadata": {"dojoSchedulerMeeting": "m1"},
        },
        "client_reference_id": "m1",
        "metadata": {"dojoSchedulerMeeting": "m1"},
        "expires_at": NOW + 31 * 60,
        "success_url": "https://club.example/meeting/m1?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://club.example/meeting/m1?checkout=canceled",
    }
    return {**params, **overrides}


def refused(method: str, path: str, params: dict, headers=HEADERS) -> dict:
    with pytest.raises(Refusal) as refusal:
        check(method, path, form(params), headers)
    assert refusal.value.status == 400
    assert refusal.value.error["type"] == "invalid_request_error"
    return refusal.value.error


# --- derived from the library -----------------------------------------------------------------


def test_each_call_we_make_has_the_route_and_params_type_the_library_declares():
    assert {(r.method, r.pattern.pattern, r.params) for r in stripe_contract.routes()} == {
        ("POST", "/v1/checkout/sessions$", stripe.params.checkout.SessionCreateParams),
        ("GET", "/v1/checkout/sessions/[^/]+$", stripe.params.checkout.SessionRetrieveParams),
        ("POST", "/v1/checkout/sessions/[^/]+/expire$", stripe.params.checkout.SessionExpireParams),
        ("POST", "/v1/refunds$", stripe.params.RefundCreateParams),
        ("GET", "/v1/refunds/[^/]+$", stripe.params.RefundRetrieveParams),
        ("GET", "/v1/refunds$", stripe.params.RefundListParams),
        ("POST", "/v1/accounts$", stripe.params.AccountCreateParams),
        ("POST", "/v1/account_links$", stripe.params.AccountLinkCreateParams),
    }
    assert route_of("POST", "/v1/checkout/sessions/cs_1/expire").name == "SessionService.expire"
    assert route_of("DELETE", "/v1/refunds/re_1") is None


def test_a_well_formed_request_of_each_call_is_accepted():
    check("POST", "/v1/checkout/sessions", form(checkout()), HEADERS)
    refund = {"payment_intent": "pi_1", "reverse_transfer": True, "refund_application_fee": True}
    check("POST", "/v1/refunds", form(refund), HEADERS)
    check("GET", "/v1/refunds/re_1", {}, HEADERS)
    check("GET", "/v1/checkout/sessions/cs_1", form({"expand": ["payment_intent"]}), HEADERS)
    check("POST", "/v1/checkout/sessions/cs_1/expire", {}, HEADERS)
    account = {
        "type": "express",
        "country": "US",
        "metadata": {"username": "alice"},
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
    }
    check("POST", "/v1/accounts", form(account), HEADERS)
    link = {"account": "acct_1", "type": "account_onboarding", "return_url": "https://x/"}
    check("POST", "/v1/account_links", form(link), HEADERS)


# --- malformed requests -----------------------------------------------------------------------


def test_the_removed_payment_method_types_is_an_unknown_parameter():
    error = refused("POST", "/v1/checkout/sessions", checkout(payment_method_types=["card"]))
    assert error["code"] == "parameter_unknown"
    assert error["param"] == "payment_method_types"


def test_an_unknown_nested_parameter_is_named_by_its_path():
    params = checkout()
    params["payment_intent_data"]["transfer_data"]["account"] = "acct_1"
    error = refused("POST", "/v1/checkout/sessions", params)
    assert error["code"] == "parameter_unknown"
    assert error["param"] == "payment_intent_data[transfer_data][account]"


def test_ill_typed_parameters_are_refused_as_stripe_names_them():
    line = checkout()["line_items"][0]
    line["price_data"]["unit_amount"] = "50.00"
    error = refused("POST", "/v1/checkout/sessions", checkout(line_items=[line]))
    assert error["code"] == "parameter_invalid_integer"
    assert error["param"] == "line_items[0][price_data][unit_amount]"

    error = refused("POST", "/v1/refunds", {"payment_intent": "pi_1", "reverse_transfer": "yes"})
    assert error["param"] == "reverse_transfer"
    assert error["message"] == "Invalid boolean: yes"

    error = refused("POST", "/v1/checkout/sessions", checkout(metadata="m1"))
    assert error["param"] == "metadata"  # a hash, not a string

    error = refused("POST", "/v1/checkout/sessions", checkout(client_reference_id=""))
    assert error["code"] == "parameter_invalid_empty"

    # a closed enum (an open one, `Literal[...] | str`, is one Stripe does not validate)
    error = refused("POST", "/v1/refunds", {"payment_intent": "pi_1", "origin": "elsewhere"})
    assert error["param"] == "origin"


def test_a_missing_required_parameter_is_refused():
    line = {"quantity": 1, "price_data": {"unit_amount": 5000, "product_data": {"name": "x"}}}
    error = refused("POST", "/v1/checkout/sessions", checkout(line_items=[line]))
    assert error["code"] == "parameter_missing"
    assert error["param"] == "line_items[0][price_data][currency]"


@pytest.mark.parametrize("version", ["2024-06-20", None])
def test_a_stripe_version_other_than_the_pinned_one_is_refused(version):
    headers = {"Stripe-Version": version} if version else {}
    error = refused("POST", "/v1/refunds", {"payment_intent": "pi_1"}, headers)
    assert error["param"] == "Stripe-Version"
    assert stripe.api_version == API_VERSION


# --- Stripe's documented refusals -------------------------------------------------------------


def ledger_with_a_payment(fee: int | None) -> Ledger:
    ledger = Ledger(accounts={"acct_coach": True})
    params = checkout()
    if fee is not None:
        params["payment_intent_data"]["application_fee_amount"] = fee
    ledger.sessions["cs_1"] = form(params)
    ledger.intents["pi_1"] = "cs_1"
    return ledger


def refund(ledger: Ledger, **params) -> None:
    params = form({"payment_intent": "pi_1", **params})
    ledger.refuse(route_of("POST", "/v1/refunds"), params)


def test_refunding_an_application_fee_the_charge_does_not_have_is_refused():
    with pytest.raises(Refusal) as refusal:
        refund(ledger_with_a_payment(fee=None), refund_application_fee=True)
    assert refusal.value.error["param"] == "refund_application_fee"
    refund(ledger_with_a_payment(fee=None), reverse_transfer=True)
    refund(ledger_with_a_payment(fee=500), refund_application_fee=True, reverse_transfer=True)


def test_a_charge_already_refunded_is_refused():
    ledger = ledger_with_a_payment(fee=None)
    ledger.learn(route_of("POST", "/v1/refunds"), form({"payment_intent": "pi_1"}), {})
    with pytest.raises(Refusal) as refusal:
        refund(ledger)
    assert refusal.value.error["code"] == "charge_already_refunded"


def test_a_failed_refund_leaves_the_charge_refundable():
    ledger = ledger_with_a_payment(fee=None)
    failed = {"status": "failed"}
    ledger.learn(route_of("POST", "/v1/refunds"), form({"payment_intent": "pi_1"}), failed)
    refund(ledger)


def test_an_idempotency_key_reused_with_other_parameters_is_refused():
    ledger, route = Ledger(), route_of("POST", "/v1/refunds")
    ledger.idempotency("k1", route, "/v1/refunds", form({"payment_intent": "pi_1"}))
    ledger.idempotency("k1", route, "/v1/refunds", form({"payment_intent": "pi_1"}))  # a retry
    with pytest.raises(Refusal) as refusal:
        ledger.idempotency("k1", route, "/v1/refunds", form({"payment_intent": "pi_2"}))
    assert refusal.value.error["type"] == "idempotency_error"
    assert refusal.value.status == 400


@pytest.mark.parametrize("after", [29 * 60, 24 * 3600 + 1])
def test_a_checkout_expiry_outside_30_minutes_to_24_hours_is_refused(after):
    ledger = Ledger(accounts={"acct_coach": True})
    route = route_of("POST", "/v1/checkout/sessions")
    ledger.refuse(route, form(checkout(expires_at=NOW + 30 * 60)), now=NOW)
    ledger.refuse(route, form(checkout(expires_at=NOW + 24 * 3600)), now=NOW)
    with pytest.raises(Refusal) as refusal:
        ledger.refuse(route, form(checkout(expires_at=NOW + after)), now=NOW)
    assert refusal.value.error["param"] == "expires_at"


def test_a_destination_without_charges_enabled_is_refused():
    route = route_of("POST", "/v1/checkout/sessions")
    param = "payment_intent_data[transfer_data][destination]"
    with pytest.raises(Refusal) as refusal:
        Ledger(accounts={"acct_coach": False}).refuse(route, form(checkout()), now=NOW)
    assert refusal.value.error["param"] == param
    with pytest.raises(Refusal) as refusal:  # the stand-in knows every account there is
        Ledger(complete=True).refuse(route, form(checkout()), now=NOW)
    assert refusal.value.error["code"] == "resource_missing"
    Ledger().refuse(route, form(checkout()), now=NOW)  # a test's double: not declared, unchecked


# --- the tests' `responses` mocks, and what our code sends -----------------------------------


def test_a_refused_request_never_reaches_the_mock_s_callback():
    answered = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(
            responses.POST, f"{API}/refunds", lambda r: answered.append(r) or (200, {}, "{}")
        )
        client = stripe.StripeClient("sk_test_x", max_network_retries=0)
        with pytest.raises(stripe.InvalidRequestError) as error:
            client.v1.refunds.create({"payment_intent": "pi_1", "reverse_transfer": "yes"})
    assert error.value.param == "reverse_transfer"
    assert answered == []


@pytest.fixture
def our_stripe(tables, monkeypatch):
    """payments/stripe_client.py with its key in Secrets Manager (moto), Stripe mocked."""
    put_secret("dojo-scheduler/test/stripe", {"secretKey": "sk_test_1", "webhookSecret": "whsec_1"})
    monkeypatch.setenv("STRIPE_SECRET_NAME", "dojo-scheduler/test/stripe")
    monkeypatch.setenv("stage", "test")
    clear_caches()
    stripe_client._client_for.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        session = {"id": "cs_test_1", "object": "checkout.session", "url": "https://c/"}
        mock.add(responses.POST, f"{API}/checkout/sessions", json=session)
        mock.add(responses.POST, f"{API}/checkout/sessions/cs_test_1/expire", json=session)
        mock.add(responses.GET, f"{API}/checkout/sessions/cs_test_1", json=session)
        mock.add(responses.POST, f"{API}/refunds", json={"id": "re_1", "object": "refund"})
        mock.add(responses.POST, f"{API}/accounts", json={"id": "acct_1", "object": "account"})
        link = {"object": "account_link", "url": "https://connect.stripe.com/x"}
        mock.add(responses.POST, f"{API}/account_links", json=link)
        stripe_contract.ledger(mock).accounts["acct_coach"] = True
        yield mock
    clear_caches()
    stripe_client._client_for.cache_clear()


def test_every_request_our_code_sends_meets_the_contract(our_stripe):
    """Every call payments/stripe_client.py makes, as it makes them (it failed while the code
    sent `payment_method_types`, and refunded a fee a 0 % charge does not have)."""
    meeting = Meeting(
        owner="alice",
        participant="bob",
        id="m1",
        startTime=datetime(2030, 1, 1, 10, tzinfo=UTC),
        type="CLASSICAL_GAME",
        price=Price(amount=5000, currency="usd"),
    )
    assert stripe_client.create_checkout(meeting, "acct_coach", 0)[0] == "cs_test_1"
    assert stripe_client.retrieve_checkout("cs_test_1")["id"] == "cs_test_1"
    assert stripe_client.expire_now("cs_test_1")["id"] == "cs_test_1"
    assert stripe_client.create_account("alice") == "acct_1"
    assert stripe_client.onboarding_link("acct_1").startswith("https://connect.stripe.com/")
    # a payment without an application fee (the default 0 %) is refunded without one
    stripe_contract.ledger(our_stripe).intents["pi_1"] = "cs_test_1"
    made = stripe_client.refund(
        "pi_1", f"refund-{time.time()}", session="cs_test_1", application_fee=0
    )
    assert made.id == "re_1"


def test_a_tests_stripe_event_tells_the_mocks_which_session_an_intent_paid():
    with responses.RequestsMock() as mock:
        ledger = stripe_contract.ledger(mock)
        session = {"id": "cs_1", "object": "checkout.session", "payment_intent": "pi_9"}
        for not_an_event in ("[[[" * 5000, "not json", "[]", {"data": {"object": {"id": 1}}}):
            stripe_contract.observe(not_an_event)
        assert ledger.intents == {}
        stripe_contract.observe(json.dumps({"type": "x", "data": {"object": session}}))
        assert ledger.intents == {"pi_9": "cs_1"}


def test_a_call_added_to_the_code_is_in_the_contract_without_being_listed(tmp_path):
    (tmp_path / "more.py").write_text(
        "def intent(client, other):\n"
        "    other.v1.anything.at_all()\n"  # not stripe's: ignored
        "    return client.v1.payment_intents.retrieve('pi_1').to_dict()\n"
    )
    [call] = stripe_contract.calls_in(tmp_path)
    assert call is stripe.PaymentIntentService.retrieve
    ours = {call.__qualname__ for call in stripe_contract.calls_in(stripe_contract.CODE)}
    assert ours <= {route.name for route in stripe_contract.routes()}
    assert "SessionService.create" in ours
