"""What each Stripe webhook event does, through the session's ledger record
(database/payments.py): every transition is conditional on the record's status, so an event
delivered again, late or out of order changes nothing after the first. Events of sessions this
stage did not create (another stage's metadata, or no ledger record) and event types this
backend does not use are acknowledged and ignored."""

from datetime import datetime

from api.log import logger
from database import payments, users
from database.models import StripeAccount
from payments import refunds, settings
from payments.stripe_client import MEETING_KEY, SESSION_KEY, STAGE_KEY, Refund

PAID = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
NOT_PAID = ("checkout.session.expired", "checkout.session.async_payment_failed")
# Each carries a Refund object, whose metadata names this stage's Checkout Session.
REFUND_EVENTS = ("refund.updated", "refund.failed", "charge.refund.updated")


def handle(event: dict, at: datetime) -> None:
    kind, data = event["type"], event["data"]["object"]
    if kind in PAID or kind in NOT_PAID:
        if not ours(data):
            logger.info("Another stage's Checkout Session", session=data.get("id"), type=kind)
            return
        if kind in PAID and data.get("payment_status") != "paid":
            # A delayed method completes unpaid: its async_payment_* event (or, past the
            # hold's expiry, the reconciliation) decides. Cards only are offered.
            outcome = "waiting"
        else:
            outcome = settle(data, at)
        logger.info("Checkout event", session=data.get("id"), type=kind, outcome=outcome)
    elif kind in REFUND_EVENTS:
        outcome = refund_reported(data, at)
        logger.info("Refund event", refund=data.get("id"), type=kind, outcome=outcome)
    elif kind == "account.updated":
        _account_updated(data, event["created"])


def refund_reported(refund: dict, at: datetime) -> str:
    """A refund's status as an event reports it: the record moves forward to it (an old or
    repeated event changes nothing); a refund this stage did not make is ignored."""
    metadata = refund.get("metadata")
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get(SESSION_KEY), str)
        and metadata.get(STAGE_KEY) == settings.stage()
        and isinstance(refund.get("id"), str)
    ):
        return "not ours"
    record = payments.get_record(metadata[SESSION_KEY])
    for _ in range(3):
        if record is None:
            return payments.NOT_OURS
        moved = refunds.record_refund(record, Refund.of(refund), at)
        if moved is not None:
            return moved
        again = payments.get_record(record.session)  # nothing to do, or moved meanwhile?
        if again is None or again.status == record.status:
            return payments.UNCHANGED
        record = again
    return payments.UNCHANGED


def ours(session: dict) -> bool:
    """A Checkout Session this stage created for a meeting (its metadata says so)."""
    metadata = session.get("metadata")
    return (
        isinstance(session.get("id"), str)
        and isinstance(metadata, dict)
        and bool(metadata.get(MEETING_KEY))
        and metadata.get(STAGE_KEY) == settings.stage()
    )


def settle(session: dict, at: datetime) -> str:
    """The one step for a Checkout Session as Stripe reports it (webhook, reconciliation):
    paid confirms or refunds it, expired releases its hold, anything else waits."""
    session_id = session["id"]
    intent = session.get("payment_intent")
    intent = intent.get("id") if isinstance(intent, dict) else intent  # expanded or not
    if session.get("payment_status") == "paid" and isinstance(intent, str):
        return payments.settle_paid(session_id, intent, at)
    if session.get("status") in ("expired", "complete"):
        # expired: nobody can pay any more; complete but unpaid: a delayed payment method
        # (cards only are offered, so not ours) or a failed async payment: no slot waits.
        return payments.settle_unpaid(session_id, at)
    return "open"


def _account_updated(account: dict, created: int) -> None:
    username = (account.get("metadata") or {}).get("username")
    if not username or not isinstance(account.get("id"), str):
        return
    current = StripeAccount(
        account_id=account["id"],
        charges_enabled=bool(account.get("charges_enabled")),
        details_submitted=bool(account.get("details_submitted")),
    )
    users.update_payout_account(username, current, as_of=created)
