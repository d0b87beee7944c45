"""How long a priced slot is held unpaid (rules/holds.py): never past 33 minutes, nor later than
a reconciliation's period before the start."""

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from rules.holds import HOLD_DUE, RECONCILE_EVERY, hold_due

AT = datetime(2030, 1, 1, 12, tzinfo=UTC)


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
@example(HOLD_DUE + RECONCILE_EVERY)  # both bounds meet
@example(HOLD_DUE + RECONCILE_EVERY - timedelta(milliseconds=1))
@example(timedelta(minutes=5))  # a game soon: the hold ends before it
def test_a_hold_ends_33_minutes_on_or_before_the_start(ahead):
    start = AT + ahead
    due = hold_due(start, AT)
    assert due <= AT + HOLD_DUE and due <= start - RECONCILE_EVERY
    assert due in (AT + HOLD_DUE, start - RECONCILE_EVERY)
