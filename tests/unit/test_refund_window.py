"""The refund policy (rules/refunds.py): the coach's cancel always refunds, the player's only
up to the refund window before the start, its boundary included."""

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from rules.refunds import in_refund_window, refund_due

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
