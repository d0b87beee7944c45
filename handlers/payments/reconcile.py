"""reconcilePayments: every 2 minutes (EventBridge), what Stripe's events may have missed.

"Now" is the scheduled event's `time`. Holds past their due time (database.payments.hold_writes)
are looked up at Stripe and settled by the very step the webhook uses (payments.events.settle):
paid → confirmed (or refunded), still open → expired at Stripe then released, expired or
unpaid → released. Refunds still pending after the stream's attempts are made again.
One session's failure (Stripe down) is logged and left for the next run.
"""

from datetime import datetime
from typing import Any

from api.log import logger
from database import payments
from database.errors import DataError
from payments import events, refunds, settings, stripe_client


def reconcile(at: datetime) -> dict:
    settings.require_enabled()
    done = {"holds": {}, "refunds": {}}
    for record in payments.due(payments.OPEN_HOLD, at):
        done["holds"][record.session] = _attempt(_settle_hold, record.session, at)
    for record in payments.due(payments.OPEN_REFUND, at):
        done["refunds"][record.session] = _attempt(refunds.carry_out, record.session)
    return done


def _settle_hold(session_id: str, at: datetime) -> str:
    session = stripe_client.retrieve_checkout(session_id)
    if session.get("status") == "open":
        session = stripe_client.expire_now(session_id)  # nobody can pay for it any more
    return events.settle(session, at)


def _attempt(step, *args) -> str:
    try:
        return step(*args)
    except DataError as error:
        logger.warning("Reconciliation deferred", step=step.__name__, detail=error.detail)
        return "deferred"


def handler(event: dict, context: Any) -> dict:
    at = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    return reconcile(at)
