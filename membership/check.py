"""A player's membership: asked of the shop, kept in the users table.

At sign-up (createUser) the shop is asked once; no answer stores FREE_TIER with the check
pending and no time of check, so the player's first `GET /user/access` asks again at once.
`GET /user/access` asks again at most once a minute per player (RECHECK_SECONDS), claimed with
one conditional write so that concurrent requests never both ask; a request that finds the
check made less than a minute ago answers what is stored.
"""

import msgspec

from database import users
from database.models import Membership
from database.times import now
from membership import settings
from rules.membership import FREE_TIER

# The shop's client (membership/shop.py: requests, and the key from Secrets Manager) is
# imported where the shop is asked: most `GET /user/access` find a check made within the
# minute and answer what is stored, and their cold start loads none of it (make bench).


def at_sign_up(email: str) -> Membership:
    from membership import shop

    status = shop.subscription_status(email, shop.SIGN_UP_SHOP_SECONDS)
    if status is None:
        return Membership(status=FREE_TIER, pending=True)
    return Membership(status=status, checked_at=_epoch())


def recheck(username: str) -> Membership:
    at = _epoch()
    stored, claimed = users.claim_membership_check(username, at, settings.RECHECK_SECONDS)
    if not claimed:
        return stored
    from membership import shop

    status = shop.subscription_status(stored.email)
    users.store_membership_check(username, at, status)
    if status is None:  # the status stays what it was until the shop answers
        return msgspec.structs.replace(stored, pending=True)
    return msgspec.structs.replace(stored, status=status, pending=False)


def _epoch() -> int:
    return int(now().timestamp())
