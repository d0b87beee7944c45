"""Booking a priced availability: the slot is held while the player pays on Stripe Checkout."""

from database import availabilities, payments
from database.errors import Conflict, DataError
from database.models import AWAITING_PAYMENT, Availability, Meeting, Payment
from database.times import now
from database.users import get_payout_account
from payments import settings, stripe_client
from rules.booking import DailyLimit
from rules.holds import hold_due

CANNOT_TAKE_PAYMENTS = "This coach cannot take payments right now"


def hold(availability: Availability, meeting: Meeting, day: DailyLimit | None = None) -> dict:
    """Holds the slot (the meeting AWAITING_PAYMENT, the session's ledger record HELD, the
    player's unpaid holds one more) and answers it, with its Checkout URL (which the meeting
    keeps, for a player who comes back to pay while it is held).

    The Checkout Session is created first: with Stripe down nothing is held (503). If the hold
    then fails (someone else booked first, too many unpaid holds), the session is expired so
    nobody can pay for it."""
    settings.require_enabled()
    account = get_payout_account(availability.owner)
    if account.account_id is None or not account.charges_enabled:
        raise Conflict(CANNOT_TAKE_PAYMENTS)
    meeting.status = AWAITING_PAYMENT
    meeting.price = price = availability.price
    assert price is not None  # the caller books here only a priced availability
    fee = stripe_client.application_fee(price.amount)
    session_id, meeting.checkoutUrl = stripe_client.create_checkout(
        meeting, account.account_id, fee
    )
    due = hold_due(meeting.startTime, now())  # when the reconciliation ends the hold
    ledger = payments.hold_writes(meeting, session_id, due, settings.max_unpaid_holds(), fee)
    try:
        availabilities.book(
            availability, meeting, Payment(checkout_session=session_id), ledger, day=day
        )
    except DataError:
        stripe_client.expire_checkout(session_id)
        raise
    return meeting.to_json()
