"""Payments in `make run`: on, against the local Stripe stand-in (local/stripe.py) unless the
developer gives a real Stripe test-mode key; LOCAL_PAYMENTS=off makes a stage without payments
(like `simple`: no payment route, no `price`).

Either way the stage's Stripe secret is created in the embedded moto, exactly as on AWS
(docs/payments.md, "Setting up a stage"; local.aws.create_secret), and the payment functions
read it from there.

- Without STRIPE_SECRET_KEY: the secret holds the stand-in's keys and STRIPE_API_BASE points
  the stripe library at `/_local/stripe`, which sends signed webhooks to the local route.
- With STRIPE_SECRET_KEY (sk_test_...): bookings of priced availabilities create real
  test-mode Checkout Sessions; Stripe's events reach the local webhook through the Stripe CLI:

      stripe listen --forward-to http://localhost:4000/stripe/webhook

  which prints the signing secret to give as STRIPE_WEBHOOK_SECRET (whsec_...).
- With STRIPE_SECRET_KEY and STRIPE_API_BASE (http://host:port): the functions talk to that
  Stripe-compatible server instead of Stripe (stripe-mock, a recording proxy, a strict
  simulator such as this stand-in run on its own), which sends its events, signed with
  STRIPE_WEBHOOK_SECRET, to http://localhost:4000/stripe/webhook (docs/stripe-stand-in.md).
"""

import logging
import os
from urllib.parse import urlsplit

from local import aws
from local import stripe as stripe_stand_in
from local.serverless import Service
from local.standins import Context, Panel, Started

log = logging.getLogger("local")

TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def requested() -> bool:
    """Whether `make run` has payments: unless LOCAL_PAYMENTS=off."""
    return os.environ.get("LOCAL_PAYMENTS", "on") != "off"


def keyed() -> bool:
    """Whether the developer gave a real Stripe key (else the stand-in answers)."""
    return bool(os.environ.get("STRIPE_SECRET_KEY"))


def enable_if_keyed(service: Service) -> bool:
    """Turns payments on when STRIPE_SECRET_KEY is a test-mode key; True when on."""
    key = os.environ.get("STRIPE_SECRET_KEY", "")
    if not key:
        return False
    if not key.startswith(TEST_KEY_PREFIXES):
        raise SystemExit("STRIPE_SECRET_KEY must be a test-mode key (sk_test_...) locally")
    # Another Stripe-compatible server: the functions inherit this process's environment, and
    # payments/stripe_client.py sends every call to STRIPE_API_BASE.
    base = os.environ.get("STRIPE_API_BASE")
    if base is not None and (urlsplit(base).scheme not in ("http", "https") or "//" not in base):
        raise SystemExit(f"STRIPE_API_BASE must be a server's URL (http://host:port): {base!r}")
    _enable(
        service, {"secretKey": key, "webhookSecret": os.environ.get("STRIPE_WEBHOOK_SECRET", "")}
    )
    return True


def enable_stand_in(
    service: Service, stand_in_url: str, secret_key: str, webhook_secret: str
) -> None:
    """Turns payments on against the stand-in at `stand_in_url`."""
    _enable(service, {"secretKey": secret_key, "webhookSecret": webhook_secret})
    os.environ["STRIPE_API_BASE"] = stand_in_url


def _enable(service: Service, keys: dict[str, str]) -> None:
    aws.create_secret(service, "stripe", keys)
    os.environ.setdefault("FRONTEND_HOST", "http://localhost:3000")


class Stripe:
    """Its plug (local/standins.py): on with payments (unless LOCAL_PAYMENTS=off); the real
    Stripe (or another server) with STRIPE_SECRET_KEY, else the stand-in."""

    name = "stripe"
    feature = "payments"
    panel = Panel(
        "Stripe: Checkout Sessions, refunds, events, accounts",
        stripe_stand_in.PATH,
        "No stand-in Stripe: payments are off, or a real Stripe key is in use.",
        render="stripe",
    )

    def requested(self) -> bool:
        return requested()

    def start(self, context: Context) -> Started:
        if enable_if_keyed(context.service):
            log.info(
                "Payments on (Stripe test mode); webhooks: stripe listen --forward-to "
                "http://localhost:%s/stripe/webhook",
                os.environ.get("PORT", "4000"),
            )
            return Started()
        stand_in = stripe_stand_in.StripeStandIn(context.api_url)
        url = context.api_url + stripe_stand_in.PATH
        enable_stand_in(context.service, url, stripe_stand_in.SECRET_KEY, stand_in.webhook_secret)
        return Started(
            routes={stripe_stand_in.PATH: (stand_in.handle, "Stripe stand-in")},
            banner=[("Stripe", f"{url} (payments; a stand-in)")],
        )


STAND_IN = Stripe()
