"""Booking a priced availability: the slot is held while the player pays on Stripe Checkout."""

from database import availabilities
from database.errors import Conflict, DataError
from database.models import AWAITING_PAYMENT, Availability, Meeting, Payment
from database.users import get_payout_account
from payments import settings, stripe_client

CANNOT_TAKE_PAYMENTS = "This coach cannot take payments right now"


def hold(availability: Availability, meeting: Meeting) -> dict:
    """Holds the slot (the meeting AWAITING_PAYMENT) and answers it, with its Checkout URL
    (which the meeting keeps, for a player who comes back to pay while it is held).

    The Checkout Session is created first: with Stripe down nothing is held (503). If the hold
    then fails (someone else booked first), the session is expired so nobody can pay for it."""
    settings.require_enabled()
    account = get_payout_account(availability.owner)
    if account.account_id is None or not account.charges_enabled:
        raise Conflict(CANNOT_TAKE_PAYMENTS)
    meeting.status = AWAITING_PAYMENT
    meeting.price = availability.price
    session_id, meeting.checkoutUrl = stripe_client.create_checkout(meeting, account.account_id)
    try:
        availabilities.book(availability, meeting, Payment(checkout_session=session_id))
    except DataError:
        stripe_client.expire_checkout(session_id)
        raise
    return meeting.to_json()
