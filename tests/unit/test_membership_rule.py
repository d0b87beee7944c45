"""Membership (rules/membership.py): who may book what, with and without the club's shop."""

from hypothesis import given
from hypothesis import strategies as st

from rules.membership import FREE_TIER, SUBSCRIBED, may_book, status_seen

statuses = st.sampled_from([SUBSCRIBED, FREE_TIER])


@given(statuses)
def test_without_a_shop_every_player_is_a_member(stored):
    assert status_seen(stored, shop_enabled=False) == SUBSCRIBED


@given(statuses)
def test_with_a_shop_the_stored_status_holds(stored):
    assert status_seen(stored, shop_enabled=True) == stored


@given(statuses, st.booleans(), st.booleans())
def test_a_member_books_anything_a_free_player_only_what_is_opened_to_them(
    stored, bookable_by_free_users, shop_enabled
):
    member = stored == SUBSCRIBED or not shop_enabled
    assert may_book(stored, bookable_by_free_users, shop_enabled) == (
        member or bookable_by_free_users
    )


def test_the_one_refusal():
    assert not may_book(FREE_TIER, bookable_by_free_users=False, shop_enabled=True)
