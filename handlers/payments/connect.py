"""POST /payments/account: the caller (a coach) gets a Stripe Connect Express account, created
once, and a link to Stripe's onboarding for it."""

from api.http import Operation, Request, http_handler
from database import users
from database.models import Onboarding
from payments import settings, stripe_client


def connect(request: Request) -> dict:
    caller = request.caller
    settings.require_enabled()
    account = users.get_payout_account(caller)
    if account.account_id is None:
        account = users.claim_payout_account(caller, stripe_client.create_account(caller))
    assert account.account_id is not None  # stored, or claimed just above
    return {**account.to_json(), "onboardingUrl": stripe_client.onboarding_link(account.account_id)}


handler = http_handler(
    connect,
    Operation(
        "POST /payments/account",
        "Connect the caller's Stripe account (created once) and get a Stripe onboarding link",
        response=Onboarding,
    ),
)
