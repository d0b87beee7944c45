"""POST /stripe/webhook: Stripe's events (no JWT: the Stripe-Signature, verified with the
stage's signing secret, is the authentication). Answers 2xx only once the change is durable;
Stripe retries anything else."""

from api.http import Operation, Request, http_handler
from database.times import now
from payments import events, settings, stripe_client


def webhook(request: Request) -> dict:
    settings.require_enabled()
    event = stripe_client.verify_event(request.raw_body(), request.header("Stripe-Signature"))
    events.handle(event, now())
    return {"received": True}


handler = http_handler(
    webhook,
    Operation(
        "POST /stripe/webhook", "Stripe's events (signed with the Stripe-Signature header, no JWT)"
    ),
)
