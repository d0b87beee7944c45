"""RFC 3339 parsing and the fixed-width UTC form the sort key relies on."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from database.times import format_time, parse_time

instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def rfc3339(instant: datetime) -> str:
    text = instant.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if text.endswith("+00:00") else text


@given(instants, offsets, offsets)
def test_the_same_instant_at_any_offset_compares_equal(instant, first, second):
    a = parse_time(rfc3339(instant.astimezone(first)))
    b = parse_time(rfc3339(instant.astimezone(second)))

    assert a == b == instant
    assert format_time(a) == format_time(b)


@given(instants, instants, offsets, offsets)
def test_stored_strings_sort_in_time_order(a, b, offset_a, offset_b):
    stored_a = format_time(parse_time(rfc3339(a.astimezone(offset_a))))
    stored_b = format_time(parse_time(rfc3339(b.astimezone(offset_b))))

    assert len(stored_a) == len(stored_b) == 24
    assert (stored_a < stored_b) == (a < b)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("2030-01-01T09:00:00Z", "2030-01-01T09:00:00.000Z"),
        ("2030-01-01t09:00:00z", "2030-01-01T09:00:00.000Z"),
        ("2030-01-01T10:00:00+01:00", "2030-01-01T09:00:00.000Z"),
        ("2029-12-31T23:30:00.123456789-09:30", "2030-01-01T09:00:00.123Z"),
        ("2030-01-01T09:00:00.5Z", "2030-01-01T09:00:00.500Z"),
    ],
)
def test_valid_timestamps(text, stored):
    assert format_time(parse_time(text)) == stored


@pytest.mark.parametrize(
    "text",
    [
        "2030-01-01T09:00:00",  # no offset
        "2030-01-01T09:00Z",  # no seconds
        "2030-01-01 09:00:00Z",
        "20300101T090000Z",  # ISO basic format
        "2030-02-30T09:00:00Z",
        "2030-01-01T24:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "",
        "2030-01-01T09:00:00Z\n",
    ],
)
def test_invalid_timestamps(text):
    with pytest.raises(ValueError):
        parse_time(text)
