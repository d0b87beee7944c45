"""The stage's payment settings, from the function's environment (serverless.yml sets them on
the stages whose config/<stage>.yml says `payments: true`; `make run` with a Stripe test key),
read and checked once per container (database/settings.py).

Payments are on where the name of the Secrets Manager secret holding the Stripe keys is set.
The name is not a secret; the keys are read at run time (payments.stripe_client).
Standard library only: the free paths import this to learn that payments are off.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from database.errors import Invalid
from database.settings import InvalidSetting, MissingSetting, number, once, text, url, whole_number

PAYMENTS_OFF = "Payments are off on this stage"


@dataclass(frozen=True)
class Settings:
    secret_name: str  # STRIPE_SECRET_NAME; "" where payments are off
    frontend_host: str  # FRONTEND_HOST
    platform_fee_percent: float  # PLATFORM_FEE_PERCENT
    stage: str  # `stage`; "" where unset (then stage() refuses to name one)
    max_unpaid_holds: int  # MAX_UNPAID_HOLDS
    account_country: str  # STRIPE_ACCOUNT_COUNTRY
    refund_window: timedelta  # REFUND_WINDOW_HOURS
    api_base: str  # STRIPE_API_BASE: the local stand-in (local/stripe.py); "" for Stripe's


def read(environ: Mapping[str, str]) -> Settings:
    country = text(environ, "STRIPE_ACCOUNT_COUNTRY", "US")
    if not (len(country) == 2 and country.isascii() and country.isupper()):
        raise InvalidSetting("STRIPE_ACCOUNT_COUNTRY", "a two-letter country code (US)", country)
    return Settings(
        secret_name=text(environ, "STRIPE_SECRET_NAME"),
        frontend_host=url(environ, "FRONTEND_HOST", "http://localhost:3000"),
        # Anything from 100 up would leave the coach nothing (Stripe refuses it at checkout).
        platform_fee_percent=number(environ, "PLATFORM_FEE_PERCENT", 0, low=0, high=100),
        stage=text(environ, "stage"),  # the original's name for it
        max_unpaid_holds=whole_number(environ, "MAX_UNPAID_HOLDS", 2, minimum=1),
        account_country=country,
        refund_window=timedelta(
            hours=number(environ, "REFUND_WINDOW_HOURS", 24, low=0, high=1_000_000)
        ),
        api_base=url(environ, "STRIPE_API_BASE"),
    )


current = once(read)
current()  # at cold start: a bad value fails it, not a player's checkout


def secret_name() -> str:
    return current().secret_name


def enabled() -> bool:
    return bool(secret_name())


def require_enabled() -> None:
    if not enabled():
        raise Invalid(PAYMENTS_OFF)


def frontend_host() -> str:
    """Where Stripe sends the player back after Checkout, and the coach after onboarding."""
    return current().frontend_host


def platform_fee_percent() -> float:
    """The club's cut of each payment (an application fee), in percent: 0 (the default) up to
    but not including 100. Anything else is a deployment mistake, refused at cold start."""
    return current().platform_fee_percent


def stage() -> str:
    """This deployment's stage, named in each Checkout Session's metadata: another stage's
    events (one Stripe account, two stages; `stripe listen` on a laptop) are not ours. Never a
    default: a function without one would take another stage's payments for its own."""
    if not current().stage:
        raise MissingSetting("stage")
    return current().stage


def max_unpaid_holds() -> int:
    """How many priced slots one player may hold unpaid at once (config `maxUnpaidHolds`)."""
    return current().max_unpaid_holds


def account_country() -> str:
    """The country of the coaches' Connect accounts (config `stripeAccountCountry`)."""
    return current().account_country


def refund_window() -> timedelta:
    """A player who cancels at least this long before the start is refunded."""
    return current().refund_window


def api_base() -> str:
    """Where the Stripe client sends its requests instead of Stripe's API ("": Stripe's)."""
    return current().api_base
