"""rescheduleMeeting on paid meetings (contract v4, "Rescheduling"): only to a slot of the same
price, only while a cancel would still be refunded; the payment moves with the meeting (the
ledger record names the new one, in the same transaction): no new Checkout Session, no refund,
and Stripe's events for the session, delivered again, change nothing; a later cancel follows
the refund policy against the new start. Stripe's API is mocked with `responses`, as in
tests/handlers/test_payments.py, whose fixtures these are."""

# ruff: noqa: F811 (the fixtures are test_payments')

from datetime import UTC, datetime, timedelta

from test_payments import (  # noqa: F401 (fixtures)
    PRICE,
    PRICED,
    cancel_as,
    coach,
    confirmed,
    deliver,
    expired,
    held,
    ledger,
    paid,
    payments_on,
    published,
    refund_stream,
    stripe_api,
)

from database.client import dynamodb, from_item, to_item
from handlers.meeting import reschedule
from support import availability, body, http_event, snapshot, uuid
from support import publish as store

P1 = PRICED["id"]
P2, P3, FREE, EARLIER = uuid("rp-p2"), uuid("rp-p3"), uuid("rp-free"), uuid("rp-earlier")
DAY_TWO = {"startTime": "2030-01-02T09:00:00Z", "endTime": "2030-01-02T12:00:00Z"}
MOVE = {"owner": "alice", "id": P2, "startTime": "2030-01-02T10:00:00Z"}


def reschedule_as(caller, meeting_id=P1, **move):
    event = http_event(
        "PUT /meeting/reschedule/{id}",
        caller=caller,
        path={"id": meeting_id},
        body={**MOVE, **move},
    )
    return reschedule.handler(event, None)


def item(client, table, **key):
    found = client.get_item(TableName=f"test-{table}", Key=to_item(key)).get("Item")
    return found and from_item(found)


def _slots(client):
    store(client, {**PRICED, **DAY_TWO, "id": P2})
    store(client, {**PRICED, **DAY_TWO, "id": P3, "price": {"amount": 6000, "currency": "usd"}})
    free = availability(id=FREE, cohorts=["ALL_COHORTS"], **DAY_TWO)
    store(client, free)


def test_a_paid_meeting_moves_with_its_payment(confirmed, stripe_api, refund_stream):
    _slots(confirmed)
    sessions_before = len(stripe_api.calls("/checkout/sessions"))

    response = reschedule_as("bob")

    assert response["statusCode"] == 200, response
    moved = body(response)
    assert moved["status"] == "SCHEDULED" and moved["price"] == PRICE
    assert moved["rescheduledFrom"] == P1 and "checkoutUrl" not in moved
    stored = item(confirmed, "meetings", id=P2)
    assert stored["checkoutSessionId"] == "cs_test_0001"
    assert stored["paymentIntentId"] == "pi_test_0001"
    old = item(confirmed, "meetings", id=P1)
    assert old["status"] == "CANCELED" and old["rescheduledTo"] == P2 and "refund" not in old
    record = ledger()
    assert record["meetingId"] == P2 and record["status"] == "CONFIRMED"
    assert record["startTime"] == "2030-01-02T10:00:00.000Z"
    # No new Checkout Session, no refund, now or off the request path.
    assert refund_stream.run() == []
    assert len(stripe_api.calls("/checkout/sessions")) == sessions_before
    assert stripe_api.calls("/refunds") == []
    # The old slot is open again, at its price.
    assert item(confirmed, "availabilities", owner="alice", id=P1)["price"] == PRICE


def test_stripe_events_for_the_session_change_nothing_after_the_move(
    confirmed, stripe_api, refund_stream
):
    _slots(confirmed)
    assert reschedule_as("bob")["statusCode"] == 200
    before = snapshot(confirmed)

    for late in (paid("cs_test_0001"), expired("cs_test_0001")):
        assert deliver(late)["statusCode"] == 200

    assert snapshot(confirmed) == before
    assert refund_stream.run() == []
    assert stripe_api.calls("/refunds") == []


def test_a_later_cancel_is_refunded_once(confirmed, stripe_api, refund_stream):
    _slots(confirmed)
    assert reschedule_as("bob")["statusCode"] == 200

    canceled = body(cancel_as("bob", meeting_id=P2))

    assert canceled["refund"] == {"status": "pending", "amount": 5000}
    assert refund_stream.run() == []
    [refund] = stripe_api.calls("/refunds")
    assert refund["payment_intent"] == ["pi_test_0001"]
    assert ledger()["status"] == "REFUNDED" and ledger()["meetingId"] == P2


def test_a_later_cancel_follows_the_refund_policy_against_the_new_start(
    confirmed, stripe_api, refund_stream, monkeypatch
):
    # A window that the old start (2030-01-01 10:00) is still outside of, and the new one,
    # 12 hours earlier, inside: the move is allowed, its cancel is not refunded.
    old_start = datetime(2030, 1, 1, 10, tzinfo=UTC)
    hours = int((old_start - datetime.now(UTC)) / timedelta(hours=1)) - 6
    monkeypatch.setenv("REFUND_WINDOW_HOURS", str(hours))
    earlier = {"startTime": "2029-12-31T20:00:00Z", "endTime": "2029-12-31T23:00:00Z"}
    store(confirmed, {**PRICED, **earlier, "id": EARLIER})

    moved = reschedule_as("bob", id=EARLIER, startTime="2029-12-31T22:00:00Z")
    assert moved["statusCode"] == 200, moved

    canceled = body(cancel_as("bob", meeting_id=EARLIER))
    assert canceled["refund"] == {"status": "none", "amount": 0}
    assert refund_stream.run() == []
    assert stripe_api.calls("/refunds") == []
    assert ledger()["status"] == "KEPT"


def test_only_to_a_slot_of_the_same_price(confirmed, stripe_api):
    _slots(confirmed)
    before = snapshot(confirmed)
    for slot in (P3, FREE):
        response = reschedule_as("bob", id=slot)
        assert response["statusCode"] == 409, response
        assert "same price" in body(response)["message"]
    assert snapshot(confirmed) == before


def test_only_while_a_cancel_would_still_be_refunded(confirmed, stripe_api, monkeypatch):
    _slots(confirmed)
    monkeypatch.setenv("REFUND_WINDOW_HOURS", str(24 * 365 * 10))  # 2030 is inside it
    before = snapshot(confirmed)
    response = reschedule_as("bob")
    assert response["statusCode"] == 409
    assert "refunded" in body(response)["message"]
    assert snapshot(confirmed) == before


def test_a_held_unpaid_meeting_is_not_rescheduled(held, stripe_api):
    client = dynamodb()
    _slots(client)
    before = snapshot(client)
    assert reschedule_as("bob")["statusCode"] == 409
    assert snapshot(client) == before


def test_the_move_fails_whole_when_the_ledger_moved_first(confirmed, stripe_api):
    """A refund decided for the session meanwhile (the record no longer CONFIRMED): the
    transaction's ledger condition fails, and nothing moves."""
    _slots(confirmed)
    confirmed.update_item(
        TableName="test-payments",
        Key=to_item({"id": "cs_test_0001"}),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({":s": "REFUND_PENDING"}),
    )
    before = snapshot(confirmed)
    assert reschedule_as("bob")["statusCode"] == 409
    assert snapshot(confirmed) == before
