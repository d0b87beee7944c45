"""Membership of the club (contract v3, "Membership"): who may book what.

A player is SUBSCRIBED when the club's shop holds an active subscription for their email, and
on every stage without a shop; FREE_TIER otherwise. A member books or joins anything; a free
player only what its owner opened to free players (`bookableByFreeUsers`). membership/ asks
the shop and reads the stage's settings, and applies these rules to what it found.
"""

from typing import Final, Literal

SUBSCRIBED: Final = "SUBSCRIBED"
FREE_TIER: Final = "FREE_TIER"
MembershipStatus = Literal["SUBSCRIBED", "FREE_TIER"]


def status_seen(stored: MembershipStatus, shop_enabled: bool) -> MembershipStatus:
    """The status as the stage sees it: without a shop, every player is a member (whatever
    the table says, e.g. a profile made while the stage had one)."""
    return stored if shop_enabled else SUBSCRIBED


def may_book(status: MembershipStatus, bookable_by_free_users: bool, shop_enabled: bool) -> bool:
    """Whether a player whose stored status is `status` may book or join an availability."""
    return bookable_by_free_users or status_seen(status, shop_enabled) == SUBSCRIBED
