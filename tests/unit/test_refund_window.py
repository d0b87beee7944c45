"""The refund policy (rules/refunds.py): the coach's cancel always refunds, the player's only
up to the refund window before the start, its boundary included; a refund's state moves only
forward, whatever order Stripe's reports come in."""

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from rules.refunds import (
    REFUND_FAILED,
    REFUND_ORDER,
    REFUND_PENDING,
    REFUND_SUBMITTED,
    REFUNDED,
    in_refund_window,
    refund_due,
    refund_move,
)

START = datetime(2030, 1, 1, 18, tzinfo=UTC)
MS = timedelta(milliseconds=1)
windows = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=1_000_000))
before = st.timedeltas(min_value=-timedelta(days=3), max_value=timedelta(days=3))


@given(windows, before)
@example(timedelta(hours=24), timedelta(hours=24))  # exactly the window before: refunded
@example(timedelta(hours=24), timedelta(hours=24) - MS)  # a millisecond later: not
@example(timedelta(0), timedelta(0))  # no window: up to the start itself
@example(timedelta(0), -MS)
def test_the_players_cancel_is_refunded_up_to_the_window_boundary_included(window, ahead):
    at = START - ahead
    assert in_refund_window(START, at, window) == (ahead >= window)
    assert refund_due("bob", "alice", START, at, window) == (ahead >= window)


@given(windows, before)
def test_the_coachs_cancel_always_refunds(window, ahead):
    assert refund_due("alice", "alice", START, START - ahead, window)


@given(windows)
@example(timedelta(hours=1_000_000))
def test_a_long_window_at_the_calendars_start_never_overflows(window):
    early = datetime(1, 1, 1, tzinfo=UTC)
    assert in_refund_window(early, early, window) == (window == timedelta(0))


reports = st.sampled_from(["succeeded", "pending", "requires_action", "failed", "canceled", "new"])


@given(st.sampled_from(REFUND_ORDER), reports)
def test_a_refund_moves_only_forward(current, reported):
    to = refund_move(current, reported)
    if to is not None:
        assert REFUND_ORDER.index(to) >= REFUND_ORDER.index(current)
        assert to != current or to == REFUND_SUBMITTED  # only pending is asked again


@given(st.lists(reports, max_size=8))
def test_reports_in_any_order_never_take_a_refund_back(sequence):
    state = REFUND_PENDING
    for reported in sequence:
        moved = refund_move(state, reported)
        if moved is not None:
            assert REFUND_ORDER.index(moved) >= REFUND_ORDER.index(state)
            state = moved
    # the last word is the furthest state reported
    furthest = max(
        (refund_move(REFUND_PENDING, r) or REFUND_PENDING for r in sequence),
        key=REFUND_ORDER.index,
        default=REFUND_PENDING,
    )
    assert state == furthest


def test_the_moves_stripe_reports():
    assert refund_move(REFUND_PENDING, "succeeded") == REFUNDED
    assert refund_move(REFUND_PENDING, "pending") == REFUND_SUBMITTED
    assert refund_move(REFUND_SUBMITTED, "pending") == REFUND_SUBMITTED  # looked up again
    assert refund_move(REFUND_SUBMITTED, "an unknown status") == REFUND_SUBMITTED
    assert refund_move(REFUNDED, "failed") == REFUND_FAILED  # Stripe may fail a success
    assert refund_move(REFUNDED, "pending") is None  # an old report
    assert refund_move(REFUNDED, "succeeded") is None  # nothing new
    assert refund_move(REFUND_FAILED, "succeeded") is None
    assert refund_move("CONFIRMED", "succeeded") is None  # no refund to move
