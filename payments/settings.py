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
    return os.environ.get("STRIPE_SECRET_NAME", "")


def enabled() -> bool:
    return bool(secret_name())


def require_enabled() -> None:
    if not enabled():
        raise Invalid(PAYMENTS_OFF)


def frontend_host() -> str:
    """Where Stripe sends the player back after Checkout, and the coach after onboarding."""
    return os.environ.get("FRONTEND_HOST", "http://localhost:3000").rstrip("/")


def platform_fee_percent() -> float:
    """The club's cut of each payment (an application fee), in percent: 0 (the default) up to
    but not including 100. Anything else is a deployment mistake, reported at cold start
    (payments.stripe_client checks it on import) rather than as a 500 at a player's checkout."""
    value = os.environ.get("PLATFORM_FEE_PERCENT") or "0"
    try:
        percent = float(value)
    except ValueError:
        percent = float("nan")
    if not 0 <= percent < 100:  # also refuses nan and inf
        raise ValueError(f"PLATFORM_FEE_PERCENT must be a number from 0 to below 100: {value!r}")
    return percent


def stage() -> str:
    """This deployment's stage, named in each Checkout Session's metadata: another stage's
    events (one Stripe account, two stages; `stripe listen` on a laptop) are not ours."""
    return os.environ.get("stage", "dev")  # noqa: SIM112 (the original's name for it)


def max_unpaid_holds() -> int:
    """How many priced slots one player may hold unpaid at once (config `maxUnpaidHolds`)."""
    return int(os.environ.get("MAX_UNPAID_HOLDS") or 2)


def account_country() -> str:
    """The country of the coaches' Connect accounts (config `stripeAccountCountry`)."""
    return os.environ.get("STRIPE_ACCOUNT_COUNTRY") or "US"


def refund_window() -> timedelta:
    """A player who cancels at least this long before the start is refunded."""
    return timedelta(hours=float(os.environ.get("REFUND_WINDOW_HOURS") or 24))
