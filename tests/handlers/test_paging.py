"""Paging properties: with any sequence of limits, every matching item comes back exactly once,
and no page but the last is empty."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_meetings import add_meeting

from handlers.availability import get as get_availability
from handlers.meeting import list as list_meetings
from support import add_user, body, http_event, hypothesis_examples, publish, uuid

limits = st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=40)
examples = settings(
    max_examples=hypothesis_examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def walk(handler, route, caller, list_key, page_limits, **query):
    """Reads pages until the last one, cycling through `page_limits`; returns the ids by page."""
    pages, start_key = [], None
    for n in range(500):
        params = {**query, "limit": str(page_limits[n % len(page_limits)])}
        if start_key:
            params["startKey"] = start_key
        response = handler(http_event(route, caller=caller, query=params), None)
        assert response["statusCode"] == 200, response["body"]
        result = body(response)
        pages.append([item["id"] for item in result[list_key]])
        start_key = result.get("lastEvaluatedKey")
        if start_key is None:
            return pages
    raise AssertionError("paging did not end")


def assert_each_once(pages, expected):
    ids = [item for page in pages for item in page]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))
    assert all(pages[:-1]), f"an empty page before the last: {pages}"


def availability(owner, n, cohorts, hour):
    return {
        "owner": owner,
        "ownerDiscord": f"{owner}#1",
        "ownerCohort": "1500-1600",
        "id": uuid(f"{owner}-{n:02d}"),
        "startTime": f"2030-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z",
        "endTime": f"2030-01-{1 + hour // 24:02d}T{hour % 24:02d}:30:00Z",
        "types": ["CLASSICAL_GAME"],
        "cohorts": cohorts,
    }


@pytest.fixture
def published(tables):
    """bob (cohort 1500-1600) searches 40 availabilities, one an hour; a quarter are his own
    and a quarter are for another cohort, in runs short enough for a page never to be empty."""
    add_user(tables, "bob")
    for hour in range(40):
        kind = hour % 4
        owner = "bob" if kind == 1 else f"owner{hour % 3}"
        cohorts = ["0-400"] if kind == 2 else ["ALL_COHORTS"] if kind == 3 else ["1500-1600"]
        publish(tables, availability(owner, hour, cohorts, hour))
    for n in range(17):
        publish(tables, availability("alice", n, ["ALL_COHORTS"], 100 + n))
    return tables


@examples
@given(page_limits=limits)
def test_own_availabilities_page_exactly_once(published, page_limits):
    pages = walk(
        get_availability.handler, "GET /availability", "alice", "availabilities", page_limits
    )

    assert_each_once(pages, [uuid(f"alice-{n:02d}") for n in range(17)])


@examples
@given(page_limits=limits)
def test_search_pages_exactly_once(published, page_limits):
    pages = walk(
        get_availability.handler,
        "GET /availability",
        "bob",
        "availabilities",
        page_limits,
        byTime="1",
        startTime="2030-01-01T00:00:00Z",
        endTime="2030-01-02T15:00:00Z",  # hours 0..39
    )

    expected = [uuid(f"owner{hour % 3}-{hour:02d}") for hour in range(40) if hour % 4 in (0, 3)]
    assert_each_once(pages, expected)


@examples
@given(page_limits=limits)
def test_meetings_page_both_sides_exactly_once(tables, page_limits):
    if not tables.scan(TableName="test-meetings")["Count"]:
        for n in range(9):
            add_meeting(tables, f"own-{n}", owner="alice", participant=f"p{n % 2}")
        for n in range(11):
            add_meeting(tables, f"booked-{n}", owner=f"o{n % 3}", participant="alice")
        for n in range(5):
            add_meeting(tables, f"other-{n}", owner="o1", participant="p1")

    pages = walk(list_meetings.handler, "GET /meeting", "alice", "meetings", page_limits)

    assert_each_once(pages, [f"own-{n}" for n in range(9)] + [f"booked-{n}" for n in range(11)])
