"""Cancelling a priced meeting, and carrying out the refunds it owes.

The coach cancelling always refunds; the player, only up to the stage's refund window before
the start. The refund is decided in the cancel's own transaction (the session's ledger record
CONFIRMED → REFUND_PENDING, or KEPT) and made off the request path: the payments table's
stream runs `carry_out` (handlers/payments/refund.py), retried by the stream, then by the
reconciliation while it is still pending. A held slot (AWAITING_PAYMENT) was not paid:
cancelling it releases its record and expires its Checkout Session.
"""

from api.log import logger
from database import meetings, payments
from database.errors import StoreFault
from database.meetings import Booking
from database.models import AWAITING_PAYMENT, CANCELED, Meeting
from database.times import now
from payments import settings, stripe_client


def cancel(booking: Booking, by: str, *, reopen: bool) -> Meeting:
    meeting, payment = booking.meeting, booking.payment
    assert payment is not None  # the caller's test: a priced meeting
    if meeting.status == CANCELED:
        return meeting  # it shows the refund as it stands
    record = payments.get_record(payment.checkout_session)
    if record is None:  # a hold from before the ledger: canceled as a free meeting
        logger.warning("A priced meeting without a ledger record", meeting=meeting.id)
        return meetings.cancel(booking, by, reopen=reopen)
    at = now()
    if meeting.status == AWAITING_PAYMENT:
        nothing = {"status": payments.REFUND_NONE, "amount": 0}
        # The record HELD → RELEASED in the same transaction: if the payment confirmed it
        # meanwhile, the condition fails and the cancel says try again (a paid cancel then).
        also = payments.cancel_hold_writes(record)
        canceled = meetings.cancel(booking, by, reopen=reopen, also=also, refund=nothing)
        # A payment completing anyway finds the record RELEASED and is refunded.
        stripe_client.expire_checkout(payment.checkout_session)
        return canceled
    due = by == meeting.owner or at <= meeting.startTime - settings.refund_window()
    refund = {
        "status": payments.REFUND_SHOWN_PENDING if due else payments.REFUND_NONE,
        "amount": record.amount if due else 0,
    }
    also = (
        payments.cancel_paid_writes(record, due, at) if record.status == payments.CONFIRMED else []
    )
    return meetings.cancel(booking, by, reopen=reopen, also=also, refund=refund)


def carry_out(session: str) -> str:
    """Makes the pending refund of `session` (once: any other state changes nothing): its new
    status. Stripe down or failing raises (Unavailable), to be retried; Stripe refusing it for
    good settles it REFUND_FAILED (the alarm: an error log, and the record stays visible)."""
    record = payments.claim_refund_attempt(session)
    if record is None:
        return "not pending"
    key = f"refund-{session}-{record.refund_attempts}"
    assert record.payment_intent is not None  # a refund is decided for a paid session only
    try:
        refund_id = stripe_client.refund(record.payment_intent, key)
    except StoreFault as error:  # Stripe said no (4xx): retrying would not change its mind
        logger.error("Stripe refused a refund", session=session, detail=error.detail)
        payments.finish_refund(record, None, failure=error.detail or "refused")
        return payments.REFUND_FAILED
    if refund_id == stripe_client.ALREADY_REFUNDED:
        refund_id = None
    payments.finish_refund(record, refund_id)
    return payments.REFUNDED
