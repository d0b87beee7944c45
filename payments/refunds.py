"""Cancelling a priced meeting, and the refunds it owes.

The coach cancelling always refunds; the player, only up to the stage's refund window before
the start. A held slot (AWAITING_PAYMENT) was not paid: cancelling it expires its Checkout
Session. The refund owed is recorded in the cancel's own write, then made (idempotently) and
noted: a cancel whose refund call failed is a 503, and retrying it makes the refund.
"""

from database import meetings
from database.meetings import Booking
from database.models import AWAITING_PAYMENT, CANCELED, Meeting
from database.times import now
from payments import settings, stripe_client


def cancel(booking: Booking, by: str, *, reopen: bool) -> Meeting:
    meeting, payment = booking.meeting, booking.payment
    if meeting.status == CANCELED:
        if payment.refund_due and payment.refund is None and payment.payment_intent:
            refund(meeting.id, payment.checkout_session, payment.payment_intent)
        return meeting
    if meeting.status == AWAITING_PAYMENT:
        canceled = meetings.cancel(booking, by, reopen=reopen)
        # A payment completing anyway finds the hold canceled and is refunded (events.py).
        stripe_client.expire_checkout(payment.checkout_session)
        return canceled
    due = by == meeting.owner or now() <= meeting.startTime - settings.refund_window()
    canceled = meetings.cancel(booking, by, reopen=reopen, refund_due=due)
    if canceled is not meeting:
        return canceled  # a concurrent cancel won: its decision, and its refund, stand
    if due:
        refund(meeting.id, payment.checkout_session, payment.payment_intent)
    return canceled


def refund(meeting_id: str, checkout_session: str, payment_intent: str) -> None:
    refund_id = stripe_client.refund(payment_intent)
    if refund_id is not None:
        meetings.record_refund(meeting_id, checkout_session, refund_id)
