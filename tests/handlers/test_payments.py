"""Paid coaching sessions on Stripe, end to end through the handlers: priced availabilities, the
held slot and its Checkout Session, the signed webhook (confirm, release, duplicates, late
events), refunds on cancel, Stripe Connect onboarding, and faults.

No network: Stripe's HTTP API is mocked with `responses` in the shapes of Stripe's API
reference, webhook payloads are signed for real (Stripe's v1 HMAC-SHA256 scheme) with a test
signing secret, and the keys are read from a Secrets Manager secret in moto.
"""

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from api.secrets import clear_caches
from database.client import from_item, to_item
from database.errors import Conflict
from database.times import format_time
from handlers.availability import book
from handlers.availability import get as get_availability
from handlers.availability import set as set_availability
from handlers.meeting import cancel
from handlers.meeting import get as get_meeting
from handlers.payments import account as get_account
from handlers.payments import connect, reconcile, webhook
from handlers.payments import refund as refund_function
from local import stripe_contract
from local.streams import first_failure, lambda_record
from payments import settings as payments_settings
from payments import stripe_client
from support import (
    SERVICE,
    add_user,
    availability,
    body,
    http_event,
    put_secret,
    snapshot,
    streams_client,
    uuid,
)
from support import publish as store

SECRET_NAME = "dojo-scheduler/test/stripe"
SECRET_KEY = "sk_test_51Dojo"
WEBHOOK_SECRET = "whsec_test_dojo"
API = "https://api.stripe.com/v1"
STAGE = "test"
PRICE = {"amount": 5000, "currency": "usd"}
P1 = uuid("p1")
PRICED = availability(id=P1, cohorts=["ALL_COHORTS"], price=PRICE, location="Zoom")
BOOKING = {
    "owner": "alice",
    "id": P1,
    "startTime": "2030-01-01T10:00:00Z",
    "type": "CLASSICAL_GAME",
}


# --- fixtures: the secret, Stripe's API, a coach ------------------------------------------


@pytest.fixture
def payments_on(tables, monkeypatch):
    """A stage with payments: its Stripe keys in Secrets Manager (moto), read by name."""
    put_secret(SECRET_NAME, {"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET})
    monkeypatch.setenv("STRIPE_SECRET_NAME", SECRET_NAME)
    monkeypatch.setenv("FRONTEND_HOST", "https://club.example")
    monkeypatch.setenv("stage", STAGE)
    clear_caches()
    stripe_client._client_for.cache_clear()
    yield tables
    clear_caches()
    stripe_client._client_for.cache_clear()


def _aws_client(service):
    import boto3

    return boto3.client(service, region_name="us-east-1")


class Stripe:
    """Stripe's API as responses serves it: Checkout Sessions, refunds, accounts, links.

    Refunds as Stripe makes them: an idempotency key's first answer, failures included, is
    replayed for that key; a payment already refunded in full refuses another refund
    (`charge_already_refunded`), a charge without an application fee refuses
    `refund_application_fee`; `fail_refunds(n)` makes Stripe fail the next n new keys;
    `refund_status` is the status a new refund gets (`settle_refund` moves it later, as Stripe
    does); `down(path, answer)` answers every request to a path prefix with a failure (an
    HTTP status with Stripe's error body for it, or "connection") until `up(path)`."""

    def __init__(self, mock: responses.RequestsMock):
        self.mock = mock
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}  # the refunds made, by idempotency key
        self.answers: dict[str, tuple] = {}  # every key's first answer, replayed
        self.failing = 0
        self.refund_status = "succeeded"
        self.fees: dict[str, int] = {}  # each session's application fee
        self.failures: dict[str, int | str] = {}
        self.accounts: dict[str, dict] = {}
        mock.add_callback(responses.POST, f"{API}/checkout/sessions", self._create_session)
        mock.add_callback(
            responses.POST,
            re_url(r"/checkout/sessions/(cs_test_\w+)/expire"),
            self._expire_session,
        )
        mock.add_callback(
            responses.GET, re_url(r"/checkout/sessions/(cs_test_\w+)$"), self._get_session
        )
        mock.add_callback(responses.POST, f"{API}/refunds", self._refund)
        mock.add_callback(responses.GET, re_url(r"/refunds/(re_\w+)$"), self._get_refund)
        mock.add_callback(responses.GET, re_url(r"/refunds\?"), self._list_refunds)
        mock.add_callback(responses.POST, f"{API}/accounts", self._create_account)
        mock.add_callback(responses.POST, f"{API}/account_links", self._account_link)

    def calls(self, path: str) -> list[dict]:
        """The form parameters of every call to `path`, in order."""
        return [
            parse_qs(call.request.body or "")
            for call in self.mock.calls
            if call.request.url.split("?")[0] == f"{API}{path}"
        ]

    def pay(self, session_id, intent="pi_test_0001"):
        """The player pays on the Checkout page (what Stripe's webhook then reports)."""
        self.sessions[session_id].update(
            status="complete", payment_status="paid", payment_intent=intent
        )
        stripe_contract.ledger(self.mock).intents[intent] = session_id  # for Stripe's refusals
        return self.sessions[session_id]

    def fail_refunds(self, count):
        self.failing = count

    def down(self, path, answer):
        self.failures[path] = answer

    def up(self, path):
        del self.failures[path]

    def refund(self, refund_id):
        [refund] = [r for r in self.refunds.values() if r["id"] == refund_id]
        return refund

    def settle_refund(self, refund_id, status, failure_reason=None):
        """Stripe finishes a pending refund (or fails one): the Refund, as its events carry it."""
        refund = self.refund(refund_id)
        refund.update(status=status, failure_reason=failure_reason)
        return dict(refund)

    def _failure(self, request):
        """The failure set for this request's path, as Stripe (or the network) gives it."""
        path = "/" + request.url.split("/v1/", 1)[1].split("?")[0]
        answer = next((a for p, a in self.failures.items() if path.startswith(p)), None)
        if answer is None:
            return None
        if answer == "connection":
            raise requests.exceptions.ConnectionError("Stripe is unreachable")
        kind = {
            401: "invalid_request_error",
            403: "invalid_request_error",
            404: "invalid_request_error",
        }
        error = {"type": kind.get(answer, "api_error"), "message": f"HTTP {answer}"}
        if answer == 404:
            error["code"] = "resource_missing"
        return answer, {}, json.dumps({"error": error})

    def _get_session(self, request):
        if failed := self._failure(request):
            return failed
        session_id = request.url.rsplit("/", 1)[-1]
        return 200, {}, json.dumps(self.sessions[session_id])

    def _get_refund(self, request):
        if failed := self._failure(request):
            return failed
        return 200, {}, json.dumps(self.refund(request.url.rsplit("/", 1)[-1]))

    def _list_refunds(self, request):
        intent = parse_qs(request.url.split("?", 1)[1])["payment_intent"][0]
        found = [r for r in self.refunds.values() if r["payment_intent"] == intent]
        page = {"object": "list", "data": found[::-1], "has_more": False, "url": "/v1/refunds"}
        return 200, {}, json.dumps(page)

    def _create_session(self, request):
        form = parse_qs(request.body)
        if "payment_method_types[0]" in form:  # removed from Checkout in 2026-09-30.endive
            error = {
                "type": "invalid_request_error",
                "code": "parameter_unknown",
                "param": "payment_method_types",
                "message": "Received unknown parameter: payment_method_types",
            }
            return 400, {}, json.dumps({"error": error})
        number = len(self.sessions) + 1
        session_id = f"cs_test_{number:04d}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_total": int(form["line_items[0][price_data][unit_amount]"][0]),
            "currency": form["line_items[0][price_data][currency]"][0],
            "client_reference_id": form["client_reference_id"][0],
            "expires_at": int(form["expires_at"][0]),
            "livemode": False,
            "metadata": {
                key[len("metadata[") : -1]: value[0]
                for key, value in form.items()
                if key.startswith("metadata[")
            },
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form["success_url"][0],
            "cancel_url": form["cancel_url"][0],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        fee = form.get("payment_intent_data[application_fee_amount]")
        self.fees[session_id] = int(fee[0]) if fee else 0
        self.sessions[session_id] = session
        return 200, {"Request-Id": f"req_{number}"}, json.dumps(session)

    def _expire_session(self, request):
        if failed := self._failure(request):
            return failed
        session_id = request.url.rsplit("/", 2)[-2]
        session = self.sessions[session_id]
        if session["status"] != "open":
            error = {
                "type": "invalid_request_error",
                "message": f'Only Checkout Sessions with a status in ["open"] can be expired. '
                f'This Checkout Session has a status of "{session["status"]}".',
            }
            return 400, {}, json.dumps({"error": error})
        session["status"] = "expired"
        return 200, {}, json.dumps(session)

    def _refund(self, request):
        if failed := self._failure(request):
            return failed
        key = request.headers["Idempotency-Key"]
        if key in self.answers:
            status, answer = self.answers[key]
            return status, {"Idempotent-Replayed": "true"}, json.dumps(answer)
        form = parse_qs(request.body)
        intent = form["payment_intent"][0]
        live = ("pending", "requires_action", "succeeded")
        if self.failing:
            self.failing -= 1
            status, answer = 500, {"error": {"type": "api_error", "message": "Try again."}}
        elif form.get("refund_application_fee") == ["true"] and not any(self.fees.values()):
            message = "This charge has no application fee to refund."
            status, answer = 400, {"error": {"type": "invalid_request_error", "message": message}}
        elif any(
            r["payment_intent"] == intent and r["status"] in live for r in self.refunds.values()
        ):
            status, answer = (
                400,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "charge_already_refunded",
                        "message": f"Charge for {intent} has already been refunded.",
                    }
                },
            )
        else:
            status, answer = (
                200,
                {
                    "id": f"re_test_{len(self.refunds) + 1:04d}",
                    "object": "refund",
                    "amount": 5000,
                    "currency": "usd",
                    "payment_intent": intent,
                    "status": self.refund_status,
                    "failure_reason": None,
                    "metadata": {
                        key[len("metadata[") : -1]: value[0]
                        for key, value in form.items()
                        if key.startswith("metadata[")
                    },
                },
            )
            self.refunds[key] = answer
        self.answers[key] = (status, json.loads(json.dumps(answer)))  # as it was then
        return status, {}, json.dumps(answer)

    def _create_account(self, request):
        key = request.headers["Idempotency-Key"]
        form = parse_qs(request.body)
        if key not in self.accounts:
            self.accounts[key] = {
                "id": f"acct_test_{len(self.accounts) + 1:04d}",
                "object": "account",
                "type": "express",
                "charges_enabled": False,
                "details_submitted": False,
                "payouts_enabled": False,
                "metadata": {"username": form["metadata[username]"][0]},
            }
        return 200, {}, json.dumps(self.accounts[key])

    def _account_link(self, request):
        form = parse_qs(request.body)
        link = {
            "object": "account_link",
            "created": int(time.time()),
            "expires_at": int(time.time()) + 300,
            "url": f"https://connect.stripe.com/setup/e/{form['account'][0]}/x1y2z3",
        }
        return 200, {}, json.dumps(link)


def re_url(path_pattern):
    import re

    return re.compile(re.escape(API) + path_pattern)


@pytest.fixture
def stripe_api(payments_on):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Stripe(mock)


@pytest.fixture
def coach(payments_on):
    """alice, whose Stripe account takes charges; bob and carol, players."""
    add_user(payments_on, "alice", stripeAccountId="acct_coach", stripeChargesEnabled=True)
    add_user(payments_on, "bob")
    add_user(payments_on, "carol")
    return payments_on


@pytest.fixture
def published(coach):
    store(coach, PRICED)
    return coach


@pytest.fixture
def held(published, stripe_api):
    response = book_as("bob")
    assert response["statusCode"] == 200, response
    return body(response)


# --- helpers ---------------------------------------------------------------------------------


def publish(data, caller="alice"):
    return set_availability.handler(http_event("PUT /availability", caller=caller, body=data))


def book_as(caller, **overrides):
    return book.handler(
        http_event("PUT /availability/book", caller=caller, body={**BOOKING, **overrides})
    )


def cancel_as(caller, meeting_id=P1):
    return cancel.handler(
        http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": meeting_id})
    )


def meeting(client, meeting_id=P1):
    item = client.get_item(TableName="test-meetings", Key=to_item({"id": meeting_id})).get("Item")
    return item and from_item(item)


def open_availability(client, owner="alice", availability_id=P1):
    key = to_item({"owner": owner, "id": availability_id})
    item = client.get_item(TableName="test-availabilities", Key=key).get("Item")
    return item and from_item(item)


def sign(payload: str, secret=WEBHOOK_SECRET, timestamp=None) -> str:
    """A Stripe-Signature header as Stripe computes it: HMAC-SHA256 of "<t>.<payload>"."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event(kind, data, created=None, event_id=None):
    return {
        "id": event_id or f"evt_{kind.replace('.', '_')}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created or int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": data},
    }


def deliver(payload, signature="sign"):
    """POST /stripe/webhook as API Gateway gives it (no JWT, the body as sent)."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    stripe_contract.observe(text)  # what Stripe reports happened, Stripe's stand-in knows
    request = http_event("POST /stripe/webhook", caller=None, body=text)
    if signature == "sign":
        signature = sign(text)
    if signature is not None:
        request["headers"]["stripe-signature"] = signature
    return webhook.handler(request)


def paid(session_id, meeting_id=P1, intent="pi_test_0001", kind="checkout.session.completed"):
    return event(
        kind,
        {
            "id": session_id,
            "object": "checkout.session",
            "client_reference_id": meeting_id,
            "metadata": {"dojoSchedulerMeeting": meeting_id, "dojoSchedulerStage": STAGE},
            "payment_intent": intent,
            "payment_status": "paid",
            "status": "complete",
            "mode": "payment",
            "amount_total": 5000,
            "currency": "usd",
        },
    )


def expired(session_id, meeting_id=P1, kind="checkout.session.expired", status="expired"):
    return event(
        kind,
        {
            "id": session_id,
            "object": "checkout.session",
            "client_reference_id": meeting_id,
            "metadata": {"dojoSchedulerMeeting": meeting_id, "dojoSchedulerStage": STAGE},
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": status,
            "mode": "payment",
        },
    )


def ledger(session_id="cs_test_0001"):
    """The session's ledger record (payments table), or None."""
    key = to_item({"id": session_id})
    item = _tables().get_item(TableName="test-payments", Key=key).get("Item")
    return item and from_item(item)


class RefundStream:
    """The payments table's stream, run through refundPayments as Lambda's event source
    mapping does: a batch, then again from the first record it reports failed, a bounded
    number of times (serverless.yml: maximumRetryAttempts)."""

    def __init__(self, client):
        self.streams = streams_client()
        self.arn = client.describe_table(TableName="test-payments")["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def take(self) -> list[dict]:
        """The new records, read and not run (a delivery that is lost)."""
        result = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = result["NextShardIterator"]
        return [lambda_record(record, self.arn) for record in result["Records"]]

    def run(self, retries=5) -> list[dict]:
        """Runs the new records; returns those given up on (what the DLQ would get)."""
        given_up = []
        while True:
            records = self.take()
            if not records:
                return given_up
            for _ in range(retries + 1):
                failed = first_failure(refund_function.handler({"Records": records}, None), records)
                if failed is None:
                    break
                records = records[failed:]
            else:
                given_up += records


@pytest.fixture
def refund_stream(payments_on):
    return RefundStream(payments_on)


def reconcile_at(when: datetime) -> dict:
    """reconcilePayments, as EventBridge runs it at `when`."""
    scheduled = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcilePayments"],
        "detail": {},
    }
    return reconcile.handler(scheduled, None)


def search_as(caller):
    query = {"byTime": "1", "startTime": "2029-12-31T00:00:00Z"}
    response = get_availability.handler(http_event("GET /availability", caller=caller, query=query))
    return [a["id"] for a in body(response)["availabilities"]]


# --- priced availabilities ---------------------------------------------------------------------


def test_a_price_on_a_stage_without_payments_is_400(tables):
    add_user(tables, "alice", stripeAccountId="acct_coach", stripeChargesEnabled=True)
    before = snapshot(tables)

    response = publish({**PRICED, "id": ""})  # a new one

    assert response["statusCode"] == 400
    assert body(response) == {"code": 400, "message": "Payments are off on this stage"}
    assert snapshot(tables) == before


@pytest.mark.parametrize(
    "account",
    [
        {},
        {"stripeAccountId": "acct_coach"},
        {"stripeAccountId": "acct_coach", "stripeChargesEnabled": False},
    ],
    ids=["no account", "onboarding not finished", "charges disabled"],
)
def test_a_price_needs_an_account_that_takes_charges(payments_on, account):
    add_user(payments_on, "alice", **account)
    before = snapshot(payments_on)

    response = publish({**PRICED, "id": ""})  # a new one

    assert response["statusCode"] == 400
    assert "Stripe account" in body(response)["message"]
    assert snapshot(payments_on) == before


def test_a_price_is_for_one_to_one_availabilities(coach):
    response = publish({**PRICED, "maxParticipants": 4})

    assert response["statusCode"] == 400
    assert "one-to-one" in body(response)["message"]


@pytest.mark.parametrize(
    "price",
    [{"amount": 49, "currency": "usd"}, {"amount": 5000, "currency": "USD"}, {"amount": "50"}, 50],
)
def test_a_bad_price_is_400(coach, price):
    response = publish({**PRICED, "price": price})

    assert response["statusCode"] == 400
    assert "price" in body(response)["message"]


def test_a_priced_availability_shows_its_price(published):
    mine = body(get_availability.handler(http_event("GET /availability")))["availabilities"]
    assert [a["price"] for a in mine] == [PRICE]
    assert search_as("bob") == [P1]


def test_a_free_availability_has_no_price_field(coach):
    response = body(publish(availability()))
    assert "price" not in response


# --- the held slot and its Checkout Session ---------------------------------------------------


def test_booking_a_priced_availability_holds_it_and_answers_a_checkout_url(held, stripe_api, coach):
    assert held["status"] == "AWAITING_PAYMENT"
    assert held["price"] == PRICE
    assert held["checkoutUrl"] == "https://checkout.stripe.com/c/pay/cs_test_0001"

    [form] = stripe_api.calls("/checkout/sessions")
    assert form["mode"] == ["payment"]
    assert form["line_items[0][price_data][unit_amount]"] == ["5000"]
    assert form["line_items[0][price_data][currency]"] == ["usd"]
    assert form["payment_intent_data[transfer_data][destination]"] == ["acct_coach"]
    assert "payment_intent_data[application_fee_amount]" not in form  # the default fee is 0
    assert form["client_reference_id"] == [P1]
    assert form["metadata[dojoSchedulerMeeting]"] == [P1]  # what the webhook acts on
    assert form["metadata[dojoSchedulerStage]"] == [STAGE]  # another stage's are ignored
    # Cards only (nothing that completes unpaid), in the parameter Stripe has now: it removed
    # `payment_method_types` from Checkout Session create in 2026-09-30.endive.
    assert form["allowed_payment_method_types[0]"] == ["card"]
    assert "allowed_payment_method_types[1]" not in form
    assert not [name for name in form if name.startswith("payment_method_types")]
    assert form["success_url"] == [
        f"https://club.example/meeting/{P1}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
    ]
    assert form["cancel_url"] == [f"https://club.example/meeting/{P1}?checkout=canceled"]
    expires_in = int(form["expires_at"][0]) - time.time()
    assert 30 * 60 <= expires_in <= 32 * 60  # Stripe's minimum is 30 minutes

    stored = meeting(coach)
    assert stored["status"] == "AWAITING_PAYMENT"
    assert stored["checkoutSessionId"] == "cs_test_0001"
    record = ledger()
    assert record["status"] == "HELD"
    assert (record["meetingId"], record["participant"], record["amount"]) == (P1, "bob", 5000)
    assert "expirationTime" not in record  # never removed while it may move
    due = datetime.fromisoformat(record["dueAt"]) - datetime.now(UTC)
    assert timedelta(minutes=32) < due <= timedelta(minutes=33)  # reconciled by 35 minutes
    assert open_availability(coach) is None
    # held: out of search, and nobody else can book it
    assert search_as("carol") == []
    assert book_as("carol")["statusCode"] == 404


def test_the_platform_fee_is_a_stage_setting(published, stripe_api, monkeypatch):
    monkeypatch.setenv("PLATFORM_FEE_PERCENT", "10")

    assert book_as("bob")["statusCode"] == 200

    [form] = stripe_api.calls("/checkout/sessions")
    assert form["payment_intent_data[application_fee_amount]"] == ["500"]


def test_the_held_meeting_is_visible_to_both_members_with_its_checkout(held, stripe_api):
    for caller in ("alice", "bob"):
        response = get_meeting.handler(
            http_event("GET /meeting/{id}", caller=caller, path={"id": P1})
        )
        shown = body(response)["meeting"]
        assert shown["status"] == "AWAITING_PAYMENT"
        assert shown["checkoutUrl"] == held["checkoutUrl"]  # a player who left can come back
        assert "checkoutSessionId" not in shown
    # once paid, no checkout is shown any more
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    response = get_meeting.handler(http_event("GET /meeting/{id}", caller="bob", path={"id": P1}))
    assert "checkoutUrl" not in body(response)["meeting"]


def test_stripe_down_while_booking_holds_nothing(published):
    before = snapshot(published)
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            f"{API}/checkout/sessions",
            body=requests.exceptions.ConnectionError("Stripe is unreachable"),
        )
        response = book_as("bob")

    assert response["statusCode"] == 503
    assert body(response) == {"code": 503, "message": "Temporary server error"}
    assert snapshot(published) == before
    assert search_as("carol") == [P1]


def test_stripe_failing_while_booking_is_503_and_holds_nothing(published):
    before = snapshot(published)
    with responses.RequestsMock() as mock:
        error = {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}}
        mock.add(responses.POST, f"{API}/checkout/sessions", status=500, json=error)
        response = book_as("bob")

    assert response["statusCode"] == 503
    assert snapshot(published) == before


def test_a_hold_that_loses_the_race_expires_its_checkout(published, stripe_api):
    # carol's booking commits while bob's Checkout Session is being created.
    def carol_books_first(request):
        published.delete_item(
            TableName="test-availabilities", Key=to_item({"owner": "alice", "id": P1})
        )
        return stripe_api._create_session(request)

    stripe_api.mock.replace(responses.POST, f"{API}/checkout/sessions")
    stripe_api.mock.remove(responses.POST, f"{API}/checkout/sessions")
    stripe_api.mock.add_callback(responses.POST, f"{API}/checkout/sessions", carol_books_first)

    response = book_as("bob")

    assert response["statusCode"] == 404
    assert meeting(published) is None
    assert stripe_api.sessions["cs_test_0001"]["status"] == "expired"  # nobody can pay for it


def test_a_coach_who_can_no_longer_take_charges_cannot_be_booked(published, stripe_api):
    published.update_item(
        TableName="test-users",
        Key=to_item({"username": "alice"}),
        UpdateExpression="SET stripeChargesEnabled = :no",
        ExpressionAttributeValues=to_item({":no": False}),
    )
    before = snapshot(published)

    response = book_as("bob")

    assert response["statusCode"] == 409
    assert snapshot(published) == before
    assert stripe_api.calls("/checkout/sessions") == []


# --- the webhook: signatures ------------------------------------------------------------------


BAD_SIGNATURES = {
    "missing": lambda payload: None,
    "empty": lambda payload: "",
    "garbage": lambda payload: "garbage",
    "wrong": lambda payload: f"t={int(time.time())},v1=deadbeef",
    "other secret": lambda payload: sign(payload, secret="whsec_someone_else"),
    "v0 scheme only": lambda payload: sign(payload).replace("v1=", "v0="),
}


@pytest.mark.parametrize("signature", BAD_SIGNATURES.values(), ids=BAD_SIGNATURES.keys())
def test_an_unsigned_or_badly_signed_event_is_400_and_changes_nothing(held, signature):
    tables = _tables()
    before = snapshot(tables)
    payload = json.dumps(paid("cs_test_0001"))

    response = deliver(payload, signature=signature(payload))

    assert response["statusCode"] == 400
    assert snapshot(tables) == before


def test_a_stale_event_is_400_and_changes_nothing(held):
    tables = _tables()
    before = snapshot(tables)
    payload = json.dumps(paid("cs_test_0001"))

    response = deliver(payload, signature=sign(payload, timestamp=int(time.time()) - 600))

    assert response["statusCode"] == 400
    assert snapshot(tables) == before


def test_a_tampered_event_is_400(held):
    tables = _tables()
    before = snapshot(tables)
    payload = json.dumps(paid("cs_test_0001"))
    signature = sign(payload)

    response = deliver(payload.replace("pi_test_0001", "pi_test_evil"), signature=signature)

    assert response["statusCode"] == 400
    assert snapshot(tables) == before


def test_the_webhook_on_a_stage_without_payments_is_400(tables):
    assert deliver(json.dumps(paid("cs_test_0001")))["statusCode"] == 400


def _tables():
    from database.client import dynamodb

    return dynamodb()


# --- the webhook: confirm, release, duplicates -------------------------------------------------


def test_a_completed_checkout_confirms_the_meeting(held, stripe_api):
    tables = _tables()

    response = deliver(paid("cs_test_0001"))

    assert response["statusCode"] == 200
    stored = meeting(tables)
    assert stored["status"] == "SCHEDULED"
    assert stored["paymentIntentId"] == "pi_test_0001"
    assert body(cancel_as("carol"))["code"] == 403  # and it is bob's
    assert stripe_api.calls("/refunds") == []


def feed_versions(tables) -> dict[str, int]:
    """Each player's calendar-feed version (database/feed_version.py): a change of it is a new
    ETag for their feed (tests/handlers/test_feed_polling.py)."""
    versions = {}
    for name in ("alice", "bob", "carol"):
        key = to_item({"username": f"calendar-feed-of#{name}"})
        item = tables.get_item(TableName="test-users", Key=key).get("Item")
        versions[name] = int(from_item(item)["feedVersion"]) if item else 0
    return versions


@pytest.mark.parametrize(
    ("settled", "status"), [(paid, "SCHEDULED"), (expired, "CANCELED")], ids=["paid", "expired"]
)
def test_a_settled_hold_shows_in_both_members_calendar_feeds(held, stripe_api, settled, status):
    """TENTATIVE becomes CONFIRMED, or CANCELLED: both members' feeds change, in the same
    transaction; no one else's."""
    tables = _tables()
    before = feed_versions(tables)
    assert before["alice"] == before["bob"] == 1  # the booking itself

    assert deliver(settled("cs_test_0001"))["statusCode"] == 200

    assert meeting(tables)["status"] == status
    after = feed_versions(tables)
    assert after == {**before, "alice": 2, "bob": 2}
    assert meeting(tables)["sequence"] == 1  # a change calendar apps take (SEQUENCE raised)


def test_a_redelivered_completion_changes_nothing(held, stripe_api):
    tables = _tables()
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    after_first = snapshot(tables)

    assert deliver(paid("cs_test_0001"))["statusCode"] == 200

    assert snapshot(tables) == after_first
    assert stripe_api.calls("/refunds") == []


def test_an_expired_checkout_releases_the_slot_exactly(held, stripe_api):
    tables = _tables()

    assert deliver(expired("cs_test_0001"))["statusCode"] == 200

    assert meeting(tables)["status"] == "CANCELED"
    reopened = open_availability(tables)
    assert reopened["price"] == PRICE
    assert reopened["location"] == "Zoom"
    assert reopened["status"] == "SCHEDULED"
    assert search_as("carol") == [P1]
    # and a redelivery changes nothing
    after_first = snapshot(tables)
    assert deliver(expired("cs_test_0001"))["statusCode"] == 200
    assert snapshot(tables) == after_first


def test_late_events_of_an_old_checkout_never_touch_the_next_booking(
    held, stripe_api, refund_stream
):
    tables = _tables()
    assert deliver(expired("cs_test_0001"))["statusCode"] == 200
    assert body(book_as("carol"))["checkoutUrl"].endswith("cs_test_0002")
    carols = snapshot(tables)

    # bob's old session, expired or (somehow) paid, arrives late
    assert deliver(expired("cs_test_0001"))["statusCode"] == 200
    assert snapshot(tables) == carols
    assert deliver(paid("cs_test_0001", intent="pi_test_bob"))["statusCode"] == 200

    assert meeting(tables)["participant"] == "carol"
    assert meeting(tables)["status"] == "AWAITING_PAYMENT"
    assert refund_stream.run() == []
    [refund] = stripe_api.calls("/refunds")  # bob's payment, for a slot he no longer held
    assert refund["payment_intent"] == ["pi_test_bob"]
    assert ledger()["status"] == "REFUNDED"
    assert ledger("cs_test_0002")["status"] == "HELD"  # carol's, untouched


def test_an_event_this_backend_does_not_use_is_acknowledged(held, stripe_api):
    tables = _tables()
    before = snapshot(tables)

    response = deliver(event("customer.created", {"id": "cus_1", "object": "customer"}))
    # the club's other Checkout Sessions (no meeting in their metadata) are not ours to refund
    other = paid("cs_test_other", meeting_id=P1)
    other["data"]["object"]["metadata"] = {"order": P1}

    assert response["statusCode"] == 200
    assert deliver(other)["statusCode"] == 200
    assert snapshot(tables) == before
    assert stripe_api.calls("/refunds") == []


def test_a_webhook_is_not_acknowledged_until_the_change_is_durable(held):
    from support import client_error, fail

    tables = _tables()
    throttled = client_error("ThrottlingException", "slow down", "TransactWriteItems")
    hook = fail(tables, "TransactWriteItems", throttled)
    response = deliver(paid("cs_test_0001"))
    tables.meta.events.unregister("before-call.dynamodb.TransactWriteItems", hook)

    assert response["statusCode"] == 503  # Stripe retries it
    assert meeting(tables)["status"] == "AWAITING_PAYMENT"
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200  # the retry
    assert meeting(tables)["status"] == "SCHEDULED"


# --- cancelling a paid meeting -----------------------------------------------------------------


def test_cancelling_a_held_slot_releases_it_and_expires_the_checkout(held, stripe_api):
    tables = _tables()

    response = cancel_as("bob")

    assert body(response)["status"] == "CANCELED"
    assert body(response)["refund"] == {"status": "none", "amount": 0}
    assert "checkoutUrl" not in body(response)
    assert open_availability(tables)["price"] == PRICE  # the participant gave it back
    assert stripe_api.sessions["cs_test_0001"]["status"] == "expired"
    assert stripe_api.calls("/refunds") == []
    assert ledger()["status"] == "RELEASED"


def test_a_payment_completing_after_the_cancel_is_refunded_once(held, stripe_api, refund_stream):
    """The webhook racing a cancel, cancel first: bob paid in the instant he canceled."""
    tables = _tables()
    stripe_api.sessions["cs_test_0001"]["status"] = "complete"  # too late to expire it
    assert cancel_as("bob")["statusCode"] == 200

    assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200  # redelivered: decided once
    assert refund_stream.run() == []
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200  # and again after the refund
    assert refund_stream.run() == []

    record = ledger()
    assert record["status"] == "REFUNDED"
    assert record["paymentIntentId"] == "pi_test_0001"
    assert record["refundId"] == "re_test_0001"
    assert record["refundReason"] == "paid after the hold was released"
    refunds = stripe_api.calls("/refunds")
    assert [r["payment_intent"] for r in refunds] == [["pi_test_0001"]]  # one call, one refund
    assert refunds[0]["reverse_transfer"] == ["true"]
    assert "refund_application_fee" not in refunds[0]  # the session took no fee
    assert meeting(tables)["status"] == "CANCELED"
    assert meeting(tables)["refund"] == {"status": "succeeded", "amount": 5000}
    assert search_as("carol") == [P1]


def test_a_cancel_after_the_payment_confirmed_is_a_paid_cancel(held, stripe_api, refund_stream):
    """The webhook racing a cancel, webhook first: the cancel read the hold, the payment
    confirmed it before the cancel wrote: the cancel changes nothing and says try again."""
    from database import meetings
    from payments import refunds

    tables = _tables()
    stale = meetings.cancel_targets(P1, "bob").booking
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200

    with pytest.raises(Conflict, match="try again"):
        refunds.cancel(stale, "bob", reopen=True)
    assert meeting(tables)["status"] == "SCHEDULED"
    assert ledger()["status"] == "CONFIRMED"
    assert open_availability(tables) is None
    # the retry sees the paid meeting: refunded (2030 is well before the window closes)
    retried = body(cancel_as("bob"))
    assert retried["status"] == "CANCELED"
    assert retried["refund"] == {"status": "pending", "amount": 5000}
    assert refund_stream.run() == []
    assert len(stripe_api.refunds) == 1


@pytest.mark.parametrize("first", ["cancel", "payment"])
def test_a_cancel_and_a_payment_in_either_order_leave_one_consistent_state(
    held, stripe_api, refund_stream, first
):
    """Both orders, each run for certain (the cancel's read comes first in both)."""
    from database import meetings
    from payments import refunds

    stripe_api.sessions["cs_test_0001"]["status"] = "complete"
    stale = meetings.cancel_targets(P1, "bob").booking
    if first == "cancel":
        refunds.cancel(stale, "bob", reopen=True)
        assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    else:
        assert deliver(paid("cs_test_0001"))["statusCode"] == 200
        with pytest.raises(Conflict):
            refunds.cancel(stale, "bob", reopen=True)
    assert refund_stream.run() == []

    tables = _tables()
    if first == "cancel":  # canceled, then paid: bob is refunded once, the slot is open
        assert meeting(tables)["status"] == "CANCELED"
        assert ledger()["status"] == "REFUNDED"
        assert len(stripe_api.refunds) == 1
        assert open_availability(tables) is not None
    else:  # paid first: the cancel changed nothing; bob still has his game
        assert meeting(tables)["status"] == "SCHEDULED"
        assert ledger()["status"] == "CONFIRMED"
        assert stripe_api.refunds == {}
        assert open_availability(tables) is None


@pytest.fixture
def confirmed(held, stripe_api):
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    return _tables()


def test_the_coach_cancelling_always_refunds(confirmed, stripe_api, refund_stream):
    response = body(cancel_as("alice"))

    assert response["status"] == "CANCELED"
    assert response["refund"] == {"status": "pending", "amount": 5000}
    assert stripe_api.calls("/refunds") == []  # off the request path
    assert ledger()["status"] == "REFUND_PENDING"

    assert refund_stream.run() == []

    [refund] = stripe_api.calls("/refunds")
    assert refund["payment_intent"] == ["pi_test_0001"]
    assert refund["reverse_transfer"] == ["true"]
    assert ledger()["refundId"] == "re_test_0001"
    assert ledger()["status"] == "REFUNDED"
    assert "expirationTime" in ledger()  # settled: may expire, long after the start
    assert open_availability(confirmed) is None  # the coach cannot play: nothing reopens
    shown = get_meeting.handler(http_event("GET /meeting/{id}", caller="bob", path={"id": P1}))
    assert body(shown)["meeting"]["refund"] == {"status": "succeeded", "amount": 5000}


def test_the_player_cancelling_in_time_is_refunded(confirmed, stripe_api, refund_stream):
    assert body(cancel_as("bob"))["refund"] == {"status": "pending", "amount": 5000}
    assert refund_stream.run() == []

    assert len(stripe_api.calls("/refunds")) == 1
    assert open_availability(confirmed)["price"] == PRICE


def _late_paid_meeting(coach):
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    window = {"startTime": format_time(soon), "endTime": format_time(soon + timedelta(hours=3))}
    store(coach, {**PRICED, **window})
    assert book_as("bob", startTime=window["startTime"])["statusCode"] == 200
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200


def test_the_player_cancelling_late_is_not_refunded(coach, stripe_api, refund_stream):
    _late_paid_meeting(coach)

    response = body(cancel_as("bob"))

    assert response["status"] == "CANCELED"
    assert response["refund"] == {"status": "none", "amount": 0}
    assert refund_stream.run() == []
    assert stripe_api.calls("/refunds") == []
    assert ledger()["status"] == "KEPT"


def test_the_refund_window_is_a_stage_setting(confirmed, stripe_api, monkeypatch, refund_stream):
    monkeypatch.setenv("REFUND_WINDOW_HOURS", str(24 * 365 * 10))  # 2030 is inside it

    assert body(cancel_as("bob"))["refund"]["status"] == "none"

    assert refund_stream.run() == []
    assert stripe_api.calls("/refunds") == []


def test_a_retried_cancel_answers_the_refund_as_it_stands(confirmed, stripe_api, refund_stream):
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"  # nothing new decided
    assert refund_stream.run() == []
    assert body(cancel_as("alice"))["refund"] == {"status": "succeeded", "amount": 5000}
    assert len(stripe_api.calls("/refunds")) == 1


# --- refunds off the request path: retries, idempotency keys, the reconciliation ---------------


def test_a_refund_failing_twice_then_succeeding_is_made_once(confirmed, stripe_api, refund_stream):
    stripe_api.fail_refunds(2)
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"

    assert refund_stream.run() == []  # two failed attempts, retried by the stream

    record = ledger()
    assert record["status"] == "REFUNDED"
    assert record["refundAttempts"] == 3
    keys = [call.request.headers["Idempotency-Key"] for call in stripe_api.mock.calls]
    # One key per attempt: a key's failure is replayed by Stripe for 24 h, so a retry with
    # the same key could never succeed (stripe-python's own network retry reuses it).
    attempts = sorted(set(k for k in keys if k.startswith("test-refund-")))
    assert attempts == [f"test-refund-cs_test_0001-{n}" for n in (1, 2, 3)]
    assert len(stripe_api.refunds) == 1
    assert meeting(confirmed)["refund"] == {"status": "succeeded", "amount": 5000}


def test_a_refund_the_stream_gave_up_on_is_made_by_the_reconciliation(
    confirmed, stripe_api, refund_stream
):
    stripe_api.fail_refunds(100)
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"

    given_up = refund_stream.run(retries=2)

    assert len(given_up) >= 1  # what the dead-letter queue (and its alarm) gets
    assert ledger()["status"] == "REFUND_PENDING"  # still owed, never TTL-removed
    assert "expirationTime" not in ledger()
    assert meeting(confirmed)["refund"]["status"] == "pending"

    stripe_api.fail_refunds(0)
    # not due yet: the reconciliation leaves a fresh decision to the stream
    assert reconcile_at(datetime.now(UTC))["refunds"] == {}
    done = reconcile_at(datetime.now(UTC) + timedelta(minutes=16))

    assert done["refunds"] == {"cs_test_0001": "REFUNDED"}
    assert ledger()["status"] == "REFUNDED"
    assert len(stripe_api.refunds) == 1


@pytest.mark.parametrize("lost", ["dropped", "dead-lettered"])
def test_a_refund_whose_stream_record_was_lost_is_made_once_whatever_comes_later(
    confirmed, stripe_api, refund_stream, lost
):
    """The refund's stream record never does its work: dropped (never handed to refundPayments:
    the mapping disabled, the record trimmed from the stream) or dead-lettered (Stripe failing
    every retry). The reconciliation makes the refund; the same records delivered later (the
    dead-letter queue's coordinates redriven, a late delivery) find it made and change nothing."""
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"
    if lost == "dropped":
        records = refund_stream.take()
    else:
        stripe_api.fail_refunds(100)
        records = refund_stream.run(retries=2)
        stripe_api.fail_refunds(0)
    assert any(refund_function.refund_decided(DynamoDBRecord(r)) for r in records)
    assert ledger()["status"] == "REFUND_PENDING"

    done = reconcile_at(datetime.now(UTC) + timedelta(minutes=16))

    assert done["refunds"] == {"cs_test_0001": "REFUNDED"}
    assert _money(stripe_api) == ["pi_test_0001"]
    settled = snapshot(confirmed)
    calls = len(stripe_api.mock.calls)

    for _ in range(2):  # the same records again: redriven, then redelivered once more
        assert refund_function.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert reconcile_at(datetime.now(UTC) + timedelta(minutes=18))["refunds"] == {}

    assert len(stripe_api.mock.calls) == calls  # Stripe not even asked
    assert snapshot(confirmed) == settled  # no attempt counted, nothing rewritten
    assert ledger()["refundId"] == "re_test_0001"
    assert meeting(confirmed)["refund"] == {"status": "succeeded", "amount": 5000}


def test_a_redelivery_racing_the_reconciliation_refunds_once(confirmed, stripe_api, refund_stream):
    """The lost record is delivered at last while the reconciliation's own attempt is on its way
    to Stripe: two attempts, two idempotency keys, one refund. The one Stripe sees second is
    refused (charge_already_refunded) and finds the record settled."""
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"
    records = refund_stream.take()  # not delivered in time
    answer_refund = stripe_api._refund
    redelivered = []

    def redelivered_meanwhile(request):
        if request.headers["Idempotency-Key"].endswith("-1"):  # the reconciliation's attempt,
            redelivered.append(refund_function.handler({"Records": records}, None))  # not yet
        return answer_refund(request)  # handled by Stripe

    stripe_api.mock.remove(responses.POST, f"{API}/refunds")
    stripe_api.mock.add_callback(responses.POST, f"{API}/refunds", redelivered_meanwhile)

    done = reconcile_at(datetime.now(UTC) + timedelta(minutes=16))

    assert redelivered == [{"batchItemFailures": []}]
    assert done["refunds"] == {"cs_test_0001": "REFUNDED"}
    refunds = [
        call.request for call in stripe_api.mock.calls if call.request.url.endswith("/refunds")
    ]
    keys = [request.headers["Idempotency-Key"] for request in refunds]
    assert keys == ["test-refund-cs_test_0001-2", "test-refund-cs_test_0001-1"]  # redelivery, ours
    assert _money(stripe_api) == ["pi_test_0001"]
    record = ledger()
    assert (record["status"], record["refundId"]) == ("REFUNDED", "re_test_0001")
    assert meeting(confirmed)["refund"] == {"status": "succeeded", "amount": 5000}


def test_a_refund_stripe_already_made_settles_the_record(confirmed, stripe_api, refund_stream):
    """An attempt that succeeded at Stripe but whose answer was lost: the next attempt (a new
    key) is refused with charge_already_refunded; the earlier refund, listed, settles it."""
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"
    lost = {"id": "re_test_lost", "payment_intent": "pi_test_0001", "status": "succeeded"}
    stripe_api.refunds["lost"] = lost

    assert refund_stream.run() == []

    assert ledger()["status"] == "REFUNDED"
    assert ledger()["refundId"] == "re_test_lost"  # the earlier refund, listed, with its status
    assert meeting(confirmed)["refund"]["status"] == "succeeded"


def test_a_refund_stripe_refuses_for_good_is_failed_and_shown(confirmed, stripe_api, refund_stream):
    stripe_api.mock.replace(
        responses.POST,
        f"{API}/refunds",
        status=400,
        json={"error": {"type": "invalid_request_error", "code": "charge_disputed"}},
    )
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"

    assert refund_stream.run() == []

    assert ledger()["status"] == "REFUND_FAILED"
    assert body(cancel_as("alice"))["refund"] == {"status": "failed", "amount": 5000}


# --- redelivery, reordering, other stages: the money stays right ------------------------------


def _money(stripe_api):
    return sorted(r["payment_intent"] for r in stripe_api.refunds.values())


@pytest.mark.parametrize("kind", ["checkout.session.completed", "checkout.session.expired"])
def test_redelivery_after_a_late_cancel_refunds_nothing(coach, stripe_api, refund_stream, kind):
    """Paid, then canceled by the player inside the no-refund window: the club keeps it."""
    _late_paid_meeting(coach)
    assert body(cancel_as("bob"))["refund"]["status"] == "none"
    before = snapshot(coach)

    again = paid("cs_test_0001") if kind.endswith("completed") else expired("cs_test_0001")
    assert deliver(again)["statusCode"] == 200
    assert refund_stream.run() == []

    assert snapshot(coach) == before
    assert _money(stripe_api) == []


def test_redelivery_after_a_refunded_cancel_refunds_nothing_more(
    confirmed, stripe_api, refund_stream
):
    assert cancel_as("bob")["statusCode"] == 200
    assert refund_stream.run() == []

    assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    assert refund_stream.run() == []

    assert _money(stripe_api) == ["pi_test_0001"]
    assert len(stripe_api.calls("/refunds")) == 1


def test_redelivery_after_another_player_rebooked_refunds_nothing(
    confirmed, stripe_api, refund_stream
):
    assert cancel_as("bob")["statusCode"] == 200  # in time: refunded, the slot reopens
    assert refund_stream.run() == []
    assert book_as("carol")["statusCode"] == 200
    assert deliver(paid("cs_test_0002", intent="pi_test_carol"))["statusCode"] == 200
    carols = snapshot(confirmed)

    for delivery in (paid("cs_test_0001"), expired("cs_test_0001")):
        assert deliver(delivery)["statusCode"] == 200
    assert refund_stream.run() == []

    assert snapshot(confirmed) == carols
    assert _money(stripe_api) == ["pi_test_0001"]  # bob's, once; carol's is kept
    assert meeting(confirmed)["participant"] == "carol"
    assert meeting(confirmed)["status"] == "SCHEDULED"


def test_redelivery_after_the_meeting_was_removed_by_ttl_refunds_nothing(
    confirmed, stripe_api, refund_stream
):
    confirmed.delete_item(TableName="test-meetings", Key=to_item({"id": P1}))  # TTL, played

    assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    assert deliver(expired("cs_test_0001"))["statusCode"] == 200
    assert refund_stream.run() == []

    assert _money(stripe_api) == []
    assert ledger()["status"] == "CONFIRMED"


def test_expired_then_completed_refunds_the_late_payment_once(held, stripe_api, refund_stream):
    assert deliver(expired("cs_test_0001"))["statusCode"] == 200
    for _ in range(2):
        assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    assert deliver(expired("cs_test_0001"))["statusCode"] == 200
    assert refund_stream.run() == []

    assert _money(stripe_api) == ["pi_test_0001"]
    assert meeting(_tables())["status"] == "CANCELED"
    assert open_availability(_tables()) is not None


def test_completed_then_expired_keeps_the_paid_meeting(held, stripe_api, refund_stream):
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    after = snapshot(_tables())

    assert deliver(expired("cs_test_0001"))["statusCode"] == 200
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200
    assert refund_stream.run() == []

    assert snapshot(_tables()) == after
    assert meeting(_tables())["status"] == "SCHEDULED"
    assert _money(stripe_api) == []


@pytest.mark.parametrize("stage", ["dev", None], ids=["another stage", "no stage"])
def test_another_stages_session_is_acknowledged_and_ignored(held, stripe_api, refund_stream, stage):
    """`stripe listen` on a laptop, or two stages on one Stripe account: not ours to refund."""
    before = snapshot(_tables())
    for delivery in (paid("cs_test_9999"), expired("cs_test_0001"), paid("cs_test_0001")):
        metadata = delivery["data"]["object"]["metadata"]
        if stage is None:
            del metadata["dojoSchedulerStage"]
        else:
            metadata["dojoSchedulerStage"] = stage
        assert deliver(delivery)["statusCode"] == 200
    assert refund_stream.run() == []

    assert snapshot(_tables()) == before
    assert _money(stripe_api) == []


def test_a_session_this_stage_never_recorded_is_ignored(held, stripe_api, refund_stream):
    """Named for this stage but not in its ledger (another deployment of the same stage)."""
    before = snapshot(_tables())

    assert deliver(paid("cs_test_9999", intent="pi_test_other"))["statusCode"] == 200
    assert refund_stream.run() == []

    assert snapshot(_tables()) == before
    assert _money(stripe_api) == []


def test_async_payment_events(held, stripe_api, refund_stream):
    """A completion still unpaid waits; async_payment_succeeded confirms (once)."""
    unpaid = paid("cs_test_0001")
    unpaid["data"]["object"]["payment_status"] = "unpaid"
    assert deliver(unpaid)["statusCode"] == 200
    assert ledger()["status"] == "HELD"

    succeeded = paid("cs_test_0001", kind="checkout.session.async_payment_succeeded")
    assert deliver(succeeded)["statusCode"] == 200
    assert deliver(succeeded)["statusCode"] == 200

    assert ledger()["status"] == "CONFIRMED"
    assert meeting(_tables())["status"] == "SCHEDULED"
    assert refund_stream.run() == []
    assert _money(stripe_api) == []


def test_async_payment_failed_releases_the_hold(held, stripe_api, refund_stream):
    failed = expired(
        "cs_test_0001", kind="checkout.session.async_payment_failed", status="complete"
    )
    assert deliver(failed)["statusCode"] == 200

    assert ledger()["status"] == "RELEASED"
    assert open_availability(_tables()) is not None
    # a later success of the same session is a payment for no held slot: refunded once
    succeeded = paid("cs_test_0001", kind="checkout.session.async_payment_succeeded")
    assert deliver(succeeded)["statusCode"] == 200
    assert refund_stream.run() == []
    assert _money(stripe_api) == ["pi_test_0001"]


# --- unpaid holds per player ----------------------------------------------------------------------


def _priced_slots(count):
    for number in range(1, count + 1):
        store(_tables(), {**PRICED, "id": uuid(f"p{number}")})


def test_a_third_unpaid_hold_is_409_and_holds_nothing(coach, stripe_api):
    _priced_slots(3)
    assert book_as("bob", id=P1)["statusCode"] == 200
    assert book_as("bob", id=uuid("p2"))["statusCode"] == 200
    before = snapshot(coach)

    response = book_as("bob", id=uuid("p3"))

    assert response["statusCode"] == 409
    assert "finish or cancel a pending payment" in body(response)["message"]
    assert snapshot(coach) == before
    assert stripe_api.sessions["cs_test_0003"]["status"] == "expired"  # nobody pays for it
    assert book_as("carol", id=uuid("p3"))["statusCode"] == 200  # another player may


def test_a_paid_or_released_hold_frees_its_place(coach, stripe_api):
    _priced_slots(4)
    assert book_as("bob", id=P1)["statusCode"] == 200
    assert book_as("bob", id=uuid("p2"))["statusCode"] == 200
    assert deliver(paid("cs_test_0001", meeting_id=P1))["statusCode"] == 200
    assert book_as("bob", id=uuid("p3"))["statusCode"] == 200  # p1 is paid: not a hold any more
    assert cancel_as("bob", uuid("p2"))["statusCode"] == 200
    assert book_as("bob", id=uuid("p4"))["statusCode"] == 200  # p2 was given back


def test_the_unpaid_hold_limit_is_a_stage_setting(coach, stripe_api, monkeypatch):
    monkeypatch.setenv("MAX_UNPAID_HOLDS", "1")
    _priced_slots(2)
    assert book_as("bob", id=P1)["statusCode"] == 200
    assert book_as("bob", id=uuid("p2"))["statusCode"] == 409


# --- the reconciliation (reconcilePayments, on a schedule) ----------------------------------


def test_a_lost_expired_event_is_reconciled(held, stripe_api, refund_stream):
    """checkout.session.expired never arrives: the schedule looks the session up, expires it
    at Stripe (still open: no one pays for it any more) and releases the slot."""
    now = datetime.now(UTC)
    assert reconcile_at(now + timedelta(minutes=20))["holds"] == {}  # not due: nothing
    assert ledger()["status"] == "HELD"

    done = reconcile_at(now + timedelta(minutes=34))

    assert done["holds"] == {"cs_test_0001": "RELEASED"}
    assert stripe_api.sessions["cs_test_0001"]["status"] == "expired"
    assert meeting(_tables())["status"] == "CANCELED"
    assert open_availability(_tables()) is not None
    assert search_as("carol") == [P1]
    # the event arriving after all changes nothing; the next run finds nothing to do
    after = snapshot(_tables())
    assert deliver(expired("cs_test_0001"))["statusCode"] == 200
    assert reconcile_at(now + timedelta(minutes=40)) == {"holds": {}, "refunds": {}}
    assert snapshot(_tables()) == after


def test_a_lost_completed_event_is_reconciled(held, stripe_api, refund_stream):
    stripe_api.pay("cs_test_0001")

    done = reconcile_at(datetime.now(UTC) + timedelta(minutes=34))

    assert done["holds"] == {"cs_test_0001": "CONFIRMED"}
    assert meeting(_tables())["status"] == "SCHEDULED"
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200  # late: changes nothing
    assert refund_stream.run() == []
    assert _money(stripe_api) == []


def test_a_hold_never_outlives_the_sessions_start(coach, stripe_api):
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    window = {"startTime": format_time(soon), "endTime": format_time(soon + timedelta(hours=1))}
    store(_tables(), {**PRICED, **window})
    assert book_as("bob", startTime=window["startTime"])["statusCode"] == 200

    done = reconcile_at(soon - timedelta(minutes=1))

    assert done["holds"] == {"cs_test_0001": "RELEASED"}


def test_stripe_down_during_the_reconciliation_defers_it(held, stripe_api):
    stripe_api.mock.replace(
        responses.GET,
        re_url(r"/checkout/sessions/(cs_test_\w+)$"),
        body=requests.exceptions.ConnectionError("Stripe is unreachable"),
    )

    done = reconcile_at(datetime.now(UTC) + timedelta(minutes=34))

    assert done["holds"] == {"cs_test_0001": "deferred"}
    assert ledger()["status"] == "HELD"  # the next run tries again


def test_the_keys_come_from_secrets_manager(held, stripe_api):
    [call] = [c for c in stripe_api.mock.calls if c.request.url.endswith("/checkout/sessions")]
    assert call.request.headers["Authorization"] == f"Bearer {SECRET_KEY}"


def test_keys_that_cannot_be_read_are_503_and_hold_nothing(published, monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_NAME", "dojo-scheduler/test/missing")
    clear_caches()
    before = snapshot(published)

    response = book_as("bob")

    assert response["statusCode"] == 503
    assert snapshot(published) == before


# --- Stripe Connect: coaches ---------------------------------------------------------------------


def connect_as(caller):
    return connect.handler(http_event("POST /payments/account", caller=caller))


def account_of(caller):
    return get_account.handler(http_event("GET /payments/account", caller=caller))


def test_a_coach_connects_once_and_gets_an_onboarding_link(payments_on, stripe_api):
    add_user(payments_on, "dave")
    assert body(account_of("dave")) == {
        "connected": False,
        "chargesEnabled": False,
        "detailsSubmitted": False,
    }

    first = body(connect_as("dave"))
    second = body(connect_as("dave"))

    assert first["connected"] is True
    assert first["onboardingUrl"].startswith("https://connect.stripe.com/setup/e/acct_test_0001/")
    assert second["onboardingUrl"].startswith("https://connect.stripe.com/setup/e/acct_test_0001/")
    [created] = stripe_api.calls("/accounts")  # one account, whatever the calls
    assert created["type"] == ["express"]
    assert created["metadata[username]"] == ["dave"]
    links = stripe_api.calls("/account_links")
    assert [link["type"] for link in links] == [["account_onboarding"]] * 2
    assert links[0]["return_url"] == ["https://club.example/coach/payments?onboarding=done"]
    item = payments_on.get_item(TableName="test-users", Key=to_item({"username": "dave"}))
    assert from_item(item["Item"])["stripeAccountId"] == "acct_test_0001"


def test_concurrent_connects_store_one_account(payments_on, stripe_api, atomic_moto):
    add_user(payments_on, "dave")
    barrier = threading.Barrier(3)
    answers = []

    def run():
        barrier.wait()
        answers.append(connect_as("dave"))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a["statusCode"] for a in answers] == [200] * 3
    assert len(stripe_api.accounts) == 1


def account_updated(account_id, username, charges, details, created=None):
    return event(
        "account.updated",
        {
            "id": account_id,
            "object": "account",
            "type": "express",
            "charges_enabled": charges,
            "details_submitted": details,
            "payouts_enabled": charges,
            "metadata": {"username": username},
        },
        created=created,
    )


def test_account_updated_keeps_the_coach_current_and_ignores_stale_events(payments_on, stripe_api):
    add_user(payments_on, "dave")
    connect_as("dave")
    now = int(time.time())

    assert (
        deliver(account_updated("acct_test_0001", "dave", True, True, created=now))["statusCode"]
        == 200
    )
    # an older event, delivered late, changes nothing
    assert (
        deliver(account_updated("acct_test_0001", "dave", False, False, created=now - 60))[
            "statusCode"
        ]
        == 200
    )
    # someone else's account naming dave changes nothing either
    assert (
        deliver(account_updated("acct_other", "dave", False, False, created=now + 1))["statusCode"]
        == 200
    )

    assert body(account_of("dave")) == {
        "connected": True,
        "chargesEnabled": True,
        "detailsSubmitted": True,
    }
    # and now dave can set a price
    dave = availability(owner="dave", ownerDiscord="dave#1", price=PRICE)
    assert publish(dave, caller="dave")["statusCode"] == 200


def test_connect_on_a_stage_without_payments_is_400(tables):
    add_user(tables, "dave")

    response = connect_as("dave")

    assert response["statusCode"] == 400
    assert body(response)["message"] == "Payments are off on this stage"


def test_stripe_down_while_connecting_stores_nothing(payments_on):
    add_user(payments_on, "dave")
    before = snapshot(payments_on)
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, f"{API}/accounts", body=requests.exceptions.ConnectionError("down")
        )
        response = connect_as("dave")

    assert response["statusCode"] == 503
    assert snapshot(payments_on) == before


# --- make run -------------------------------------------------------------------------------


def test_make_run_turns_payments_on_only_with_a_stripe_test_key(tables, monkeypatch):
    from local import payments as local_payments

    for name in ("STRIPE_SECRET_NAME", "FRONTEND_HOST", "STRIPE_SECRET_KEY"):
        # Set, then removed: monkeypatch records only what it changes, so what
        # enable_if_keyed sets below is undone afterwards too (a later `make run` in the tests,
        # tests/e2e/test_schemathesis.py, inherits this environment).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    assert local_payments.enable_if_keyed(SERVICE) is False
    assert not payments_settings.enabled()

    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_nope")
    with pytest.raises(SystemExit):
        local_payments.enable_if_keyed(SERVICE)

    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    assert local_payments.enable_if_keyed(SERVICE) is True
    clear_caches()
    assert stripe_client._keys() == {"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET}
    clear_caches()


def test_events_of_the_connect_endpoint_verify_with_its_own_secret(payments_on, stripe_api):
    secrets = _aws_client("secretsmanager")
    keys = {
        "secretKey": SECRET_KEY,
        "webhookSecret": WEBHOOK_SECRET,
        "connectWebhookSecret": "whsec_connect",
    }
    secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(keys))
    clear_caches()
    add_user(payments_on, "dave", stripeAccountId="acct_dave")
    payload = json.dumps(account_updated("acct_dave", "dave", True, True))

    assert deliver(payload, signature=sign(payload, secret="whsec_connect"))["statusCode"] == 200
    assert body(account_of("dave"))["chargesEnabled"] is True


def test_a_priced_booking_makes_one_more_dynamodb_call_than_a_free_one(published, stripe_api):
    """A free booking's 2 calls (tests/handlers/test_round_trips.py) plus the coach's account."""
    calls = []
    published.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )

    assert book_as("bob")["statusCode"] == 200

    assert calls == ["BatchGetItem", "GetItem", "TransactWriteItems"]


# --- the webhook: hostile or malformed input, and which secret verifies what -------------------


@pytest.mark.parametrize(
    "payload",
    [
        "[]",
        "[1, 2]",
        '"text"',
        "{}",
        '{"id": "evt_1", "type": "checkout.session.completed", "created": 1}',
        '{"id": "evt_1", "type": "checkout.session.completed", "created": 1, "data": []}',
        '{"id": "evt_1", "type": "checkout.session.completed", "created": 1, "data": {}}',
        '{"id": 1, "type": "account.updated", "created": 1, "data": {"object": {}}}',
        "[" * 100_000 + "]" * 100_000,
        "not json",
    ],
    ids=lambda payload: payload[:40],
)
def test_a_signed_event_that_is_not_an_event_is_400(held, payload):
    before = snapshot(_tables())

    response = deliver(payload)

    assert response["statusCode"] == 400
    assert body(response)["message"].startswith("Invalid webhook payload")
    assert snapshot(_tables()) == before


def test_an_event_signed_in_the_future_is_400(held):
    before = snapshot(_tables())
    payload = json.dumps(paid("cs_test_0001"))

    response = deliver(payload, signature=sign(payload, timestamp=int(time.time()) + 600))

    assert response["statusCode"] == 400
    assert snapshot(_tables()) == before
    # within the tolerance (clocks differ a little) it is accepted
    assert (
        deliver(payload, signature=sign(payload, timestamp=int(time.time()) + 60))["statusCode"]
        == 200
    )


def test_each_signing_secret_verifies_only_its_endpoints_events(held, stripe_api):
    secrets = _aws_client("secretsmanager")
    keys = {
        "secretKey": SECRET_KEY,
        "webhookSecret": WEBHOOK_SECRET,
        "connectWebhookSecret": "whsec_connect",
    }
    secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(keys))
    clear_caches()
    add_user(_tables(), "dave", stripeAccountId="acct_dave")
    before = snapshot(_tables())

    # a Checkout event signed with the Connect secret, an account event with the platform's
    checkout = json.dumps(paid("cs_test_0001"))
    account = json.dumps(account_updated("acct_dave", "dave", True, True))
    assert deliver(checkout, signature=sign(checkout, secret="whsec_connect"))["statusCode"] == 200
    assert deliver(account, signature=sign(account))["statusCode"] == 200

    assert snapshot(_tables()) == before  # acknowledged, and ignored
    assert deliver(checkout)["statusCode"] == 200
    assert meeting(_tables())["status"] == "SCHEDULED"


@pytest.mark.parametrize("value", ["abc", "-1", "100", "nan", "inf", "10%"])
def test_a_bad_platform_fee_fails_the_cold_start(value, monkeypatch):
    import importlib

    monkeypatch.setenv("PLATFORM_FEE_PERCENT", value)
    with pytest.raises(ValueError, match="PLATFORM_FEE_PERCENT"):
        importlib.reload(stripe_client)
    monkeypatch.setenv("PLATFORM_FEE_PERCENT", "2.5")
    importlib.reload(stripe_client)
    assert stripe_client.application_fee(5000) == 125


def test_accounts_are_created_with_the_stages_country(payments_on, stripe_api, monkeypatch):
    monkeypatch.setenv("STRIPE_ACCOUNT_COUNTRY", "GB")
    add_user(payments_on, "dave")

    assert connect_as("dave")["statusCode"] == 200

    [created] = stripe_api.calls("/accounts")
    assert created["country"] == ["GB"]


# --- against the real Stripe (issue 28): its parameters, its refund statuses, its errors ------


def refund_event(kind, refund, event_id=None):
    """A refund's event as Stripe sends it to the platform endpoint: the Refund object."""
    return event(kind, refund, event_id=event_id or f"evt_{kind}_{refund['status']}")


@pytest.fixture
def alarms(caplog):
    """The error log lines (what the payments alarm counts), as (message, session)."""

    def logged():
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        return [(r.getMessage(), getattr(r, "session", None)) for r in errors]

    return logged


def _refunded_by_the_coach(refund_stream):
    assert body(cancel_as("alice"))["refund"] == {"status": "pending", "amount": 5000}
    assert refund_stream.run() == []


def _shown(meeting_id=P1):
    response = get_meeting.handler(
        http_event("GET /meeting/{id}", caller="bob", path={"id": meeting_id})
    )
    return body(response)["meeting"]["refund"]


@pytest.mark.parametrize("percent, fee", [("0", 0), ("10", 500)])
def test_a_refund_returns_the_application_fee_only_when_the_session_took_one(
    published, stripe_api, refund_stream, monkeypatch, percent, fee
):
    """Stripe refuses `refund_application_fee` on a charge without an application fee (the
    default 0 % fee): the ledger keeps the session's fee from the hold on."""
    monkeypatch.setenv("PLATFORM_FEE_PERCENT", percent)
    assert book_as("bob")["statusCode"] == 200
    assert ledger()["applicationFee"] == fee
    assert deliver(paid("cs_test_0001"))["statusCode"] == 200

    _refunded_by_the_coach(refund_stream)

    [form] = stripe_api.calls("/refunds")
    assert form["reverse_transfer"] == ["true"]  # a destination charge: always a transfer
    assert form.get("refund_application_fee") == (["true"] if fee else None)
    assert form["metadata[dojoSchedulerSession]"] == ["cs_test_0001"]  # its events find us
    assert form["metadata[dojoSchedulerStage]"] == [STAGE]
    assert ledger()["status"] == "REFUNDED"
    assert _shown() == {"status": "succeeded", "amount": 5000}


@pytest.mark.parametrize("status", ["pending", "requires_action"])
def test_a_pending_refund_is_pending_until_stripe_says_it_succeeded(
    confirmed, stripe_api, refund_stream, status
):
    stripe_api.refund_status = status  # the platform's balance is short, say

    _refunded_by_the_coach(refund_stream)

    record = ledger()
    assert (record["status"], record["refundId"]) == ("REFUND_SUBMITTED", "re_test_0001")
    assert "expirationTime" not in record  # it may still move
    assert _shown() == {"status": "pending", "amount": 5000}
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"

    succeeded = refund_event(
        "refund.updated", stripe_api.settle_refund("re_test_0001", "succeeded")
    )
    assert deliver(succeeded)["statusCode"] == 200

    assert ledger()["status"] == "REFUNDED"
    assert _shown() == {"status": "succeeded", "amount": 5000}
    settled = snapshot(confirmed)
    # redelivered, and an older `pending` update arriving late: nothing changes
    stale = refund_event(
        "refund.updated", {**stripe_api.refund("re_test_0001"), "status": "pending"}
    )
    for again in (succeeded, stale, succeeded):
        assert deliver(again)["statusCode"] == 200
    assert snapshot(confirmed) == settled
    assert len(stripe_api.calls("/refunds")) == 1


def test_a_pending_refund_is_followed_by_the_reconciliation(confirmed, stripe_api, refund_stream):
    """Its events lost: the reconciliation retrieves the refund until Stripe settles it."""
    stripe_api.refund_status = "pending"
    _refunded_by_the_coach(refund_stream)
    now = datetime.now(UTC)

    assert reconcile_at(now + timedelta(minutes=5))["refunds"] == {}  # the events come first
    assert reconcile_at(now + timedelta(minutes=16))["refunds"] == {
        "cs_test_0001": "REFUND_SUBMITTED"
    }
    assert reconcile_at(now + timedelta(minutes=18))["refunds"] == {}  # asked again later
    stripe_api.settle_refund("re_test_0001", "succeeded")  # no event arrives
    done = reconcile_at(now + timedelta(minutes=32))

    assert done["refunds"] == {"cs_test_0001": "REFUNDED"}
    lookups = [c for c in stripe_api.mock.calls if c.request.method == "GET"]
    assert [c.request.url for c in lookups] == [f"{API}/refunds/re_test_0001"] * 2
    assert ledger()["status"] == "REFUNDED"
    assert _shown() == {"status": "succeeded", "amount": 5000}
    assert reconcile_at(now + timedelta(minutes=60)) == {"holds": {}, "refunds": {}}
    assert len(stripe_api.calls("/refunds")) == 1  # made once


@pytest.mark.parametrize("first", ["pending", "succeeded"])
@pytest.mark.parametrize("kind", ["refund.failed", "charge.refund.updated"])
def test_a_refund_that_fails_at_stripe_is_failed_shown_and_alarmed(
    confirmed, stripe_api, refund_stream, alarms, first, kind
):
    """Pending, then failed; or even reported succeeded, then failed (Stripe may)."""
    stripe_api.refund_status = first
    _refunded_by_the_coach(refund_stream)
    assert alarms() == []

    failed = stripe_api.settle_refund("re_test_0001", "failed", "insufficient_funds")
    assert deliver(refund_event(kind, failed))["statusCode"] == 200

    record = ledger()
    assert (record["status"], record["refundFailure"]) == ("REFUND_FAILED", "insufficient_funds")
    assert _shown() == {"status": "failed", "amount": 5000}
    assert alarms() == [(refunds_module().REFUND_FAILED_ALARM, "cs_test_0001")]
    # the success event of before, arriving after it, and the failure again: nothing changes
    settled = snapshot(confirmed)
    late = refund_event("refund.updated", {**failed, "status": "succeeded"}, event_id="evt_late")
    for again in (late, refund_event(kind, failed)):
        assert deliver(again)["statusCode"] == 200
    assert snapshot(confirmed) == settled
    assert len(alarms()) == 1
    assert reconcile_at(datetime.now(UTC) + timedelta(hours=1)) == {"holds": {}, "refunds": {}}


def refunds_module():
    from payments import refunds

    return refunds


def test_a_refund_stripe_answers_failed_is_failed_at_once(
    confirmed, stripe_api, refund_stream, alarms
):
    stripe_api.refund_status = "failed"

    _refunded_by_the_coach(refund_stream)

    assert ledger()["status"] == "REFUND_FAILED"
    assert _shown() == {"status": "failed", "amount": 5000}
    assert [session for _, session in alarms()] == ["cs_test_0001"]


def test_a_refund_event_overtaking_the_creates_answer_is_kept(confirmed, stripe_api, refund_stream):
    """Stripe answers the create `pending`, settles the refund at once, and its event is
    recorded before the answer is: the older answer changes nothing."""
    stripe_api.refund_status = "pending"
    answer_refund = stripe_api._refund

    def event_first(request):
        answer = answer_refund(request)
        refund = stripe_api.settle_refund("re_test_0001", "succeeded")
        assert deliver(refund_event("refund.updated", refund))["statusCode"] == 200
        return answer  # `pending`, as it was when Stripe answered

    stripe_api.mock.remove(responses.POST, f"{API}/refunds")
    stripe_api.mock.add_callback(responses.POST, f"{API}/refunds", event_first)

    _refunded_by_the_coach(refund_stream)

    assert ledger()["status"] == "REFUNDED"
    assert _shown() == {"status": "succeeded", "amount": 5000}
    assert "open" not in ledger()  # nothing left to follow


@pytest.mark.parametrize(
    "metadata", [{}, {"dojoSchedulerSession": "cs_test_0001", "dojoSchedulerStage": "dev"}]
)
def test_refund_events_of_refunds_this_stage_did_not_make_are_ignored(
    confirmed, stripe_api, refund_stream, metadata
):
    stripe_api.refund_status = "pending"
    _refunded_by_the_coach(refund_stream)
    before = snapshot(confirmed)
    # its own refund's id, even: the metadata alone says whose it is
    other = {**stripe_api.refund("re_test_0001"), "metadata": metadata}

    for kind in ("refund.failed", "refund.updated"):
        failed = {**other, "status": "failed" if kind == "refund.failed" else "succeeded"}
        assert deliver(refund_event(kind, failed))["statusCode"] == 200

    assert snapshot(confirmed) == before


def test_an_event_for_another_refund_of_the_session_changes_nothing(
    confirmed, stripe_api, refund_stream
):
    stripe_api.refund_status = "pending"
    _refunded_by_the_coach(refund_stream)
    before = snapshot(confirmed)
    other = {**stripe_api.refund("re_test_0001"), "id": "re_other", "status": "failed"}

    assert deliver(refund_event("refund.failed", other))["statusCode"] == 200

    assert snapshot(confirmed) == before


def _break_the_secret(how, monkeypatch):
    if how == "no secretKey":
        secrets = _aws_client("secretsmanager")
        secrets.put_secret_value(
            SecretId=SECRET_NAME, SecretString=json.dumps({"webhookSecret": WEBHOOK_SECRET})
        )
    else:  # Secrets Manager cannot give it (here: no such secret)
        monkeypatch.setenv("STRIPE_SECRET_NAME", "dojo-scheduler/test/missing")
    clear_caches()


def _mend_the_secret(monkeypatch):
    secrets = _aws_client("secretsmanager")
    keys = {"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET}
    secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(keys))
    monkeypatch.setenv("STRIPE_SECRET_NAME", SECRET_NAME)
    clear_caches()


PASSING_FAULTS = [401, 403, 429, 500, "connection", "no secretKey", "secret unreadable"]


@pytest.mark.parametrize("fault", PASSING_FAULTS, ids=str)
def test_faults_that_pass_are_retried_until_the_refund_is_made(
    confirmed, stripe_api, refund_stream, monkeypatch, alarms, fault
):
    """A 401 while a rolled key is still cached, a 403 from a restricted key, a secret
    without secretKey: none is Stripe refusing the refund; each is retried, and alarmed
    once it lasts."""
    assert body(cancel_as("alice"))["refund"]["status"] == "pending"
    if isinstance(fault, str) and "secret" in fault:
        _break_the_secret(fault, monkeypatch)
    else:
        stripe_api.down("/refunds", fault)

    assert len(refund_stream.run(retries=2)) >= 1  # the dead-letter queue (and its alarm)

    record = ledger()
    assert record["status"] == "REFUND_PENDING"
    assert record["refundAttempts"] == 3
    assert _shown() == {"status": "pending", "amount": 5000}
    now = datetime.now(UTC)
    assert reconcile_at(now + timedelta(minutes=16))["refunds"] == {"cs_test_0001": "deferred"}
    assert alarms() == []  # not yet
    assert reconcile_at(now + timedelta(minutes=46))["refunds"] == {"cs_test_0001": "deferred"}
    assert [session for _, session in alarms()] == ["cs_test_0001"]  # lasting: alarmed

    _mend_the_secret(monkeypatch)
    stripe_api.failures.clear()
    done = reconcile_at(now + timedelta(minutes=48))

    assert done["refunds"] == {"cs_test_0001": "REFUNDED"}
    assert ledger()["refundAttempts"] == 6
    assert _money(stripe_api) == ["pi_test_0001"]
    assert _shown() == {"status": "succeeded", "amount": 5000}


# --- released holds: reconciled until Stripe says the session expired ------------------------


def test_a_payment_for_a_released_hold_is_refunded_once_without_any_webhook(
    held, stripe_api, refund_stream
):
    """The cancel's expire fails; the player pays in a tab still open; no event ever comes."""
    stripe_api.down("/checkout/sessions/cs_test_0001/expire", 500)
    assert body(cancel_as("bob"))["refund"] == {"status": "none", "amount": 0}
    stripe_api.up("/checkout/sessions/cs_test_0001/expire")
    assert stripe_api.sessions["cs_test_0001"]["status"] == "open"
    assert ledger()["status"] == "RELEASED"
    stripe_api.pay("cs_test_0001")
    now = datetime.now(UTC)

    assert reconcile_at(now + timedelta(minutes=34))["holds"] == {"cs_test_0001": "REFUND_PENDING"}
    assert refund_stream.run() == []

    assert ledger()["status"] == "REFUNDED"
    assert ledger()["refundReason"] == "paid after the hold was released"
    for minutes in (36, 50, 120):
        assert reconcile_at(now + timedelta(minutes=minutes)) == {"holds": {}, "refunds": {}}
    assert _money(stripe_api) == ["pi_test_0001"]
    assert meeting(_tables())["status"] == "CANCELED"
    assert meeting(_tables())["refund"] == {"status": "succeeded", "amount": 5000}


@pytest.mark.parametrize("expire", ["works", "fails"])
def test_a_released_hold_is_reconciled_until_stripe_says_it_expired(held, stripe_api, expire):
    if expire == "fails":
        stripe_api.down("/checkout/sessions/cs_test_0001/expire", "connection")
    assert cancel_as("bob")["statusCode"] == 200
    stripe_api.failures.clear()
    now = datetime.now(UTC)
    assert reconcile_at(now + timedelta(minutes=20))["holds"] == {}  # Stripe's own expiry first

    stripe_api.down("/checkout/sessions/cs_test_0001", 503)
    assert reconcile_at(now + timedelta(minutes=34))["holds"] == {"cs_test_0001": "deferred"}
    stripe_api.failures.clear()
    assert reconcile_at(now + timedelta(minutes=36))["holds"] == {"cs_test_0001": "expired"}

    assert stripe_api.sessions["cs_test_0001"]["status"] == "expired"  # by now, at the latest
    assert ledger()["status"] == "RELEASED"
    assert "open" not in ledger()
    assert reconcile_at(now + timedelta(minutes=40)) == {"holds": {}, "refunds": {}}
    assert stripe_api.calls("/refunds") == []


@pytest.mark.parametrize("state", ["held", "released"])
def test_a_hold_whose_session_stripe_no_longer_knows_is_released(held, stripe_api, state):
    """The stage's key switched to another Stripe account: its sessions are 404s."""
    if state == "released":
        stripe_api.down("/checkout/sessions/cs_test_0001/expire", 500)
        assert cancel_as("bob")["statusCode"] == 200
    stripe_api.down("/checkout/sessions/cs_test_0001", 404)
    now = datetime.now(UTC)

    done = reconcile_at(now + timedelta(minutes=34))

    assert done["holds"] == {"cs_test_0001": "RELEASED" if state == "held" else "expired"}
    assert ledger()["status"] == "RELEASED"
    assert meeting(_tables())["status"] == "CANCELED"
    assert open_availability(_tables()) is not None
    assert reconcile_at(now + timedelta(minutes=36)) == {"holds": {}, "refunds": {}}


# --- smaller: consistent reads, the client's timeout, keys named by stage ---------------------


def test_the_webhook_reads_the_meeting_and_its_record_strongly_consistent(held, stripe_api):
    """An eventually consistent read could take a hold written a moment ago for no hold."""
    reads = []
    _tables().meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: reads.append(params)
    )

    assert deliver(paid("cs_test_0001"))["statusCode"] == 200

    assert {r["TableName"] for r in reads} == {"test-meetings", "test-payments"}
    assert all(r.get("ConsistentRead") is True for r in reads), reads


def test_stripe_calls_give_up_well_within_the_functions_timeout(held, stripe_api):
    """Each try may take TIMEOUT (connect, read); with the one retry and its back-off (at most
    1 s for the first), a call ends well before the function's 20 s."""
    [call] = [c for c in stripe_api.mock.calls if c.request.url.endswith("/checkout/sessions")]
    timeout = call.request.req_kwargs["timeout"]
    assert timeout == stripe_client.TIMEOUT
    attempts = stripe_client.NETWORK_RETRIES + 1
    assert attempts * sum(timeout) + stripe_client.NETWORK_RETRIES * 1.0 <= 15


def test_idempotency_keys_name_the_stage(payments_on, stripe_api):
    """Stripe keeps keys per Stripe account, which stages may share."""
    add_user(payments_on, "dave")

    assert connect_as("dave")["statusCode"] == 200

    [call] = [c for c in stripe_api.mock.calls if c.request.url == f"{API}/accounts"]
    assert call.request.headers["Idempotency-Key"] == f"{STAGE}-connect-dave"
