"""What each Stripe webhook event does. Every change is conditional on the state the event
expects, so a redelivered, late or out-of-order event changes nothing the second time; an
event this backend does not use is acknowledged and ignored."""

import stripe

from api.log import logger
from database import meetings, users
from database.models import StripeAccount
from payments import refunds
from payments.stripe_client import MEETING_KEY

PAID = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
NOT_PAID = ("checkout.session.expired", "checkout.session.async_payment_failed")


def handle(event: stripe.Event) -> None:
    kind, data = event.type, event.data.object.to_dict()  # plain dicts, as Stripe sent them
    if kind in PAID:
        _paid(data)
    elif kind in NOT_PAID:
        if meeting_id := _meeting_of(data):
            released = meetings.release_hold(meeting_id, data["id"])
            logger.info("Checkout not paid", meeting=meeting_id, released=released)
    elif kind == "account.updated":
        _account_updated(data, event.created)


def _paid(session: dict) -> None:
    meeting_id = _meeting_of(session)
    # A delayed payment method completes unpaid: async_payment_succeeded comes when it is.
    if not meeting_id or session.get("payment_status") != "paid":
        return
    intent = session["payment_intent"]
    outcome = meetings.confirm_payment(meeting_id, session["id"], intent)
    logger.info("Checkout paid", meeting=meeting_id, outcome=outcome)
    if outcome == meetings.NOT_HELD:
        # Paid for a slot no longer held (canceled or expired meanwhile): give it all back.
        refunds.refund(meeting_id, session["id"], intent)


def _meeting_of(session: dict) -> str | None:
    """The meeting a Checkout Session of this backend pays for; None for any other session."""
    return (session.get("metadata") or {}).get(MEETING_KEY)


def _account_updated(account: dict, created: int) -> None:
    username = (account.get("metadata") or {}).get("username")
    if not username:
        return
    current = StripeAccount(
        account_id=account["id"],
        charges_enabled=bool(account.get("charges_enabled")),
        details_submitted=bool(account.get("details_submitted")),
    )
    users.update_payout_account(username, current, as_of=created)
