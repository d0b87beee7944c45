"""The refund policy (contract v3, "Payments"; docs/payments.md): when a canceled paid meeting
is refunded, when a paid meeting may still be moved, and how a refund's state moves as Stripe
reports it (the ledger, database/payments.py, records each move conditionally).

The coach canceling always refunds: they cannot play. The player is refunded when they cancel
at least the stage's refund window (`REFUND_WINDOW_HOURS`, payments/settings.py) before the
start, and may reschedule a paid meeting only while such a cancel would still be refunded (the
payment moves with the meeting, so a move must not dodge the window).
"""

from datetime import datetime, timedelta


def in_refund_window(start: datetime, at: datetime, window: timedelta) -> bool:
    """Whether `at` is at least `window` before `start` (its boundary included)."""
    return start - at >= window  # never `start - window`: no date arithmetic to overflow


def refund_due(by: str, owner: str, start: datetime, at: datetime, window: timedelta) -> bool:
    """Whether canceling at `at`, `by` a member, a paid meeting of `owner` starting at `start`
    refunds its participant in full."""
    return by == owner or in_refund_window(start, at, window)


# A refund's ledger states (database/payments.py's diagram).
REFUND_PENDING = "REFUND_PENDING"  # owed, not yet accepted by Stripe
REFUND_SUBMITTED = "REFUND_SUBMITTED"  # made; Stripe says pending (or requires_action)
REFUNDED = "REFUNDED"
REFUND_FAILED = "REFUND_FAILED"
# Stripe's refund statuses, as ledger states; an unknown one waits as pending.
REFUND_STATES = {
    "succeeded": REFUNDED,
    "pending": REFUND_SUBMITTED,
    "requires_action": REFUND_SUBMITTED,
    "failed": REFUND_FAILED,
    "canceled": REFUND_FAILED,
}
# A refund's ledger states, in the only order it moves.
REFUND_ORDER = (REFUND_PENDING, REFUND_SUBMITTED, REFUNDED, REFUND_FAILED)


def refund_move(current: str, stripe_status: str) -> str | None:
    """The state a refund in ledger state `current` moves to when Stripe reports
    `stripe_status`: only forward (pending, succeeded, failed: Stripe may fail a refund it
    reported succeeded), never back, so an old or repeated report changes nothing (None).
    Pending again is a move (it is looked up again later); succeeded or failed again is not.
    A record that is no refund (`current` outside REFUND_ORDER) never moves here."""
    to = REFUND_STATES.get(stripe_status, REFUND_SUBMITTED)
    if current not in REFUND_ORDER or REFUND_ORDER.index(to) < REFUND_ORDER.index(current):
        return None
    if to == current and to != REFUND_SUBMITTED:
        return None
    return to
