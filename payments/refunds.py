"""Cancelling a priced meeting, and carrying out the refunds it owes.

The coach cancelling always refunds; the player, only up to the stage's refund window before
the start. The refund is decided in the cancel's own transaction (the session's ledger record
CONFIRMED → REFUND_PENDING, or KEPT) and made off the request path: the payments table's
stream runs `carry_out` (handlers/payments/refund.py), retried by the stream, then by the
reconciliation while it is still pending. A held slot (AWAITING_PAYMENT) was not paid:
cancelling it releases its record and expires its Checkout Session.
"""

from datetime import datetime

from api.log import logger
from database import meetings, payments
from database.meetings import Booking
from database.models import AWAITING_PAYMENT, CANCELED, Meeting
from database.times import now
from payments import settings, stripe_client
from rules.refunds import REFUND_STATES, refund_due


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
        # A payment completing anyway finds the record RELEASED and is refunded: by its event,
        # or by the reconciliation, which asks Stripe until it says the session expired.
        stripe_client.expire_checkout(payment.checkout_session)
        return canceled
    due = refund_due(by, meeting.owner, meeting.startTime, at, settings.refund_window())
    refund = {
        "status": payments.REFUND_SHOWN_PENDING if due else payments.REFUND_NONE,
        "amount": record.amount if due else 0,
    }
    also = (
        payments.cancel_paid_writes(record, due, at) if record.status == payments.CONFIRMED else []
    )
    return meetings.cancel(booking, by, reopen=reopen, also=also, refund=refund)


def carry_out(session: str, at: datetime | None = None) -> str:
    """Makes the pending refund of `session` (once: any other state changes nothing): its new
    status, as Stripe reports the refund (REFUNDED, or REFUND_SUBMITTED while Stripe says it
    is pending). Stripe refusing it for good (Refused) settles it REFUND_FAILED; any other
    failure (Stripe down, 401, 403, the secret unreadable) raises, the record still
    REFUND_PENDING with its attempt counted, to be retried by the stream, then by the
    reconciliation, which alarms it when it lasts (handlers/payments/reconcile.py)."""
    at = at or now()
    record = payments.claim_refund_attempt(session)
    if record is None:
        return "not pending"
    key = f"{settings.stage()}-refund-{session}-{record.refund_attempts}"
    assert record.payment_intent is not None  # a refund is decided for a paid session only
    try:
        made = stripe_client.refund(
            record.payment_intent,
            key,
            session=session,
            application_fee=record.application_fee,
        )
    except stripe_client.Refused as error:  # 400/404: retrying would not change its mind
        failure = error.detail or "refused"
        if payments.fail_refund(record, failure):
            _alarm_failed(session, failure)
        return payments.REFUND_FAILED
    # The state Stripe reports, whoever recorded it (an event may have been first).
    return record_refund(record, made, at) or REFUND_STATES.get(made.status, made.status)


REFUND_FAILED_ALARM = "A refund failed: an operator's case"


def record_refund(
    record: payments.Record, refund: stripe_client.Refund, at: datetime
) -> str | None:
    """The refund's state as Stripe reports it, on the record and the meeting; a failure is
    alarmed (an error log) by whichever report moved the record to it."""
    moved = payments.record_refund(record, refund.id, refund.status, at, refund.failure_reason)
    if moved == payments.REFUND_FAILED:
        _alarm_failed(record.session, refund.failure_reason or refund.status, refund=refund.id)
    return moved


def _alarm_failed(session: str, failure: str, refund: str | None = None) -> None:
    logger.error(REFUND_FAILED_ALARM, session=session, refund=refund, failure=failure)


def follow(session: str, at: datetime) -> str:
    """The reconciliation's step for a refund Stripe reported pending: asked again."""
    record = payments.get_record(session)
    if record is None or record.status != payments.REFUND_SUBMITTED or not record.refund_id:
        return "not submitted"
    refund = stripe_client.retrieve_refund(record.refund_id)
    return record_refund(record, refund, at) or "unchanged"
