"""How long a priced slot is held unpaid (docs/payments.md, "The ledger").

A booking of a priced slot holds it while the player pays on Stripe Checkout, whose session
expires after 31 minutes. The reconciliation (every RECONCILE_EVERY) ends a hold at its due time
should Stripe's expiry fail to, so a hold never outlives 35 minutes, nor the start.
"""

from datetime import datetime, timedelta

HOLD_DUE = timedelta(minutes=33)
RECONCILE_EVERY = timedelta(minutes=2)


def hold_due(start: datetime, at: datetime) -> datetime:
    """When the reconciliation ends a hold made at `at` of a game starting at `start`: HOLD_DUE
    later, or a reconciliation's period before the start if that comes first."""
    return min(at + HOLD_DUE, start - RECONCILE_EVERY)
