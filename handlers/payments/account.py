"""GET /payments/account: the state of the caller's Stripe account, as Stripe's
`account.updated` webhook last told it (no call to Stripe)."""

from api.http import Operation, Request, http_handler
from database.models import PayoutAccount
from database.users import get_payout_account
from payments import settings


def get_account(request: Request) -> dict:
    caller = request.caller
    settings.require_enabled()
    return get_payout_account(caller).to_json()


handler = http_handler(
    get_account,
    Operation(
        "GET /payments/account", "The state of the caller's Stripe account", response=PayoutAccount
    ),
)
