"""Payments in `make run`: off unless the developer gives a Stripe test-mode key.

With STRIPE_SECRET_KEY (sk_test_...) the stage's Secrets Manager secret is created in the
embedded moto, exactly as on AWS (README, "Payments"), and the payment functions read it from
there: bookings of priced availabilities create real test-mode Checkout Sessions. Stripe's
events reach the local webhook through the Stripe CLI:

    stripe listen --forward-to http://localhost:4000/stripe/webhook

which prints the signing secret to give as STRIPE_WEBHOOK_SECRET (whsec_...).
"""

import json
import os

import boto3

SECRET_NAME = "dojo-scheduler/local/stripe"
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def requested() -> bool:
    """Whether the developer asked for payments (gave a Stripe key)."""
    return bool(os.environ.get("STRIPE_SECRET_KEY"))


def enable_if_keyed(region: str) -> bool:
    """Turns payments on when STRIPE_SECRET_KEY is a test-mode key; True when on."""
    key = os.environ.get("STRIPE_SECRET_KEY", "")
    if not key:
        return False
    if not key.startswith(TEST_KEY_PREFIXES):
        raise SystemExit("STRIPE_SECRET_KEY must be a test-mode key (sk_test_...) locally")
    keys = {"secretKey": key, "webhookSecret": os.environ.get("STRIPE_WEBHOOK_SECRET", "")}
    secrets = boto3.client("secretsmanager", region_name=region)
    secrets.create_secret(Name=SECRET_NAME, SecretString=json.dumps(keys))
    os.environ["PAYMENTS_SECRET_NAME"] = SECRET_NAME
    os.environ.setdefault("FRONTEND_HOST", "http://localhost:3000")
    return True
