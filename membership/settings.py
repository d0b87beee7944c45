"""The stage's membership settings, from the function's environment, read once per container:
serverless.yml sets them on the stages whose config/<stage>.yml says `membership: 'true'`
(`make run` with MEMBERSHIP=1).

Membership is on where the shop's URL and the name of the Secrets Manager secret holding its key
are set. Neither is a secret; the key is read at run time (membership.shop). Without them every
player is SUBSCRIBED, whatever the table says. Standard library only (and the records): getUser,
setUser and bookAvailability import this to apply the rule, never the shop's client.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from database.models import Availability, OwnUser
from database.settings import once, text, url
from rules import membership as rules

MEMBERS_ONLY = "This session is for members"
# The shop is asked about one player at most once a minute, however often the frontend asks.
RECHECK_SECONDS = 60


@dataclass(frozen=True)
class Settings:
    secret_name: str  # SHOP_SECRET_NAME
    shop_url: str  # SHOP_URL, without its trailing slash


def read(environ: Mapping[str, str]) -> Settings:
    return Settings(
        secret_name=text(environ, "SHOP_SECRET_NAME"), shop_url=url(environ, "SHOP_URL")
    )


current = once(read)  # read once per container (database/settings.py)
current()  # at cold start: a bad value fails it


def secret_name() -> str:
    return current().secret_name


def shop_url() -> str:
    return current().shop_url


def enabled() -> bool:
    return bool(secret_name() and shop_url())


def as_seen(user: OwnUser) -> OwnUser:
    """The player as this stage sees them (rules/membership.py)."""
    seen = rules.status_seen(user.subscriptionStatus, enabled())
    if seen == user.subscriptionStatus:
        return user
    return msgspec.structs.replace(user, subscriptionStatus=seen)


def may_book(player: OwnUser, availability: Availability) -> bool:
    """Whether `player` may book or join `availability` on this stage (rules/membership.py)."""
    return rules.may_book(player.subscriptionStatus, availability.bookableByFreeUsers, enabled())
