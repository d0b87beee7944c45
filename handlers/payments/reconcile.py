"""reconcilePayments: every 2 minutes (EventBridge), what Stripe's events may have missed.

"Now" is the scheduled event's `time`. Holds past their due time (database.payments.hold_writes)
are looked up at Stripe and settled by the very step the webhook uses (payments.events.settle):
paid → confirmed (or refunded), still open → expired at Stripe then released, expired or
unpaid → released. Holds a cancel released are looked up the same way until Stripe says
their session expired (a payment found for one is refunded, once); a session Stripe no longer
knows (404: the key switched to another account) is released and no longer asked about.
Refunds still owed after the stream's attempts are made again; refunds Stripe reported
pending are looked up. One session's failure (Stripe down, 401, 403) is logged and left for
the next run; one failing for LASTING is an operator's case (an error log: the alarm).
"""

from datetime import datetime, timedelta
from typing import Any

from api.log import logger
from database import payments
from database.errors import DataError
from payments import events, refunds, settings, stripe_client

# A record the reconciliation has failed to settle for this long past its due time.
LASTING = timedelta(minutes=30)
DEFERRED = "Reconciliation deferred"


def reconcile(at: datetime) -> dict:
    settings.require_enabled()
    done = {"holds": {}, "refunds": {}}
    for record in payments.due(payments.OPEN_HOLD, at):
        done["holds"][record.session] = _attempt(_settle_hold, record, at)
    for record in payments.due(payments.OPEN_REFUND, at):
        done["refunds"][record.session] = _attempt(_settle_refund, record, at)
    return done


def _settle_hold(record: payments.Record, at: datetime) -> str:
    session_id = record.session
    try:
        session = stripe_client.retrieve_checkout(session_id)
    except stripe_client.Refused as error:
        if error.code != "resource_missing":
            raise
        logger.warning("Stripe does not know a held Checkout Session", session=session_id)
        return payments.settle_unpaid(session_id, at)  # nobody pays it with our key
    if session.get("status") == "open":
        session = stripe_client.expire_now(session_id)  # nobody can pay for it any more
    return events.settle(session, at)


def _settle_refund(record: payments.Record, at: datetime) -> str:
    if record.status == payments.REFUND_SUBMITTED:  # made; Stripe said pending
        return refunds.follow(record.session, at)
    return refunds.carry_out(record.session, at)


def _attempt(step, record: payments.Record, at: datetime) -> str:
    try:
        return step(record, at)
    except DataError as error:
        due = datetime.fromisoformat(record.due) if record.due else at
        log = logger.error if at - due >= LASTING else logger.warning
        log(DEFERRED, step=step.__name__, session=record.session, detail=error.detail)
        return "deferred"


def handler(event: dict, context: Any) -> dict:
    at = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    return reconcile(at)
