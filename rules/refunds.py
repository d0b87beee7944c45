"""The refund policy (contract v3, "Payments"; docs/payments.md): when a canceled paid meeting
is refunded, and when a paid meeting may still be moved.

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
