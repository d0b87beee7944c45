"""The stage's membership settings, from the function's environment: serverless.yml sets them
on the stages whose config/<stage>.yml says `membership: 'true'` (`make run` with MEMBERSHIP=1).

Membership is on where the shop's URL and the name of the Secrets Manager secret holding its key
are set. Neither is a secret; the key is read at run time (membership.shop). Without them every
player is SUBSCRIBED, whatever the table says. Standard library only (and the records): getUser,
setUser and bookAvailability import this to apply the rule, never the shop's client.
"""

import os

import msgspec

from database.models import SUBSCRIBED, Availability, OwnUser

MEMBERS_ONLY = "This session is for members"
# The shop is asked about one player at most once a minute, however often the frontend asks.
RECHECK_SECONDS = 60


def secret_name() -> str:
    return os.environ.get("SHOP_SECRET_NAME", "")


def shop_url() -> str:
    return os.environ.get("SHOP_URL", "").rstrip("/")


def enabled() -> bool:
    return bool(secret_name() and shop_url())


def as_seen(user: OwnUser) -> OwnUser:
    """The player as this stage sees them: without a shop, every player is a member."""
    if enabled() or user.subscriptionStatus == SUBSCRIBED:
        return user
    return msgspec.structs.replace(user, subscriptionStatus=SUBSCRIBED)


def may_book(player: OwnUser, availability: Availability) -> bool:
    """A member books or joins anything; a free player only what its owner opened to them."""
    return availability.bookableByFreeUsers or as_seen(player).subscriptionStatus == SUBSCRIBED
