"""The stage's payment settings, from the function's environment (serverless.yml sets them on
the stages whose config/<stage>.yml says `payments: true`; `make run` with a Stripe test key).

Payments are on where the name of the Secrets Manager secret holding the Stripe keys is set.
The name is not a secret; the keys are read at run time (payments.stripe_client).
Standard library only: the free paths import this to learn that payments are off.
"""

import os
from datetime import timedelta

from database.errors import Invalid

PAYMENTS_OFF = "Payments are off on this stage"


def secret_name() -> str:
    return os.environ.get("PAYMENTS_SECRET_NAME", "")


def enabled() -> bool:
    return bool(secret_name())


def require_enabled() -> None:
    if not enabled():
        raise Invalid(PAYMENTS_OFF)


def frontend_host() -> str:
    """Where Stripe sends the player back after Checkout, and the coach after onboarding."""
    return os.environ.get("FRONTEND_HOST", "http://localhost:3000").rstrip("/")


def platform_fee_percent() -> float:
    """The club's cut of each payment (an application fee), in percent; 0 by default."""
    return float(os.environ.get("PLATFORM_FEE_PERCENT") or 0)


def refund_window() -> timedelta:
    """A player who cancels at least this long before the start is refunded."""
    return timedelta(hours=float(os.environ.get("REFUND_WINDOW_HOURS") or 24))
