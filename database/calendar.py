"""A player's calendar: what they published, the meetings they are in, the group sessions
they joined and what they can book, from a time on, paged together by one token. Every read is
a GetItem (the player's cohort), a Query on a key or an index, and one BatchGetItem for the
joined sessions: nothing scans a table."""

import functools
from datetime import datetime

from database.availabilities import bookable_query, in_search_range, owned_query
from database.client import translate_errors
from database.meetings import get_sessions, joined_part, member_parts
from database.models import SCHEDULED, Availability, Meeting
from database.paging import Part, query_parts
from database.times import format_time
from database.users import get_user

# The key of a SearchIndex page: the index's and the table's.
SEARCH_KEY = frozenset({"status", "startTime", "owner", "id"})


def _parts(username: str, since: str, bookable: Part) -> list[Part]:
    return [
        Part("published", owned_query(username, since), frozenset({"owner", "id"})),
        *member_parts(username, since),
        joined_part(username, since),
        bookable,
    ]


def _bookable(username: str, since: datetime) -> Part:
    """Others' availabilities the player can book (their cohort read from their profile)."""
    player = get_user(username)
    request, low = bookable_query(username, player.dojoCohort if player else "", since)
    return Part(
        "bookable",
        request,
        SEARCH_KEY,
        fixed={"status": SCHEDULED},
        accepts=functools.partial(in_search_range, low=low),
    )


@translate_errors
def calendar(
    username: str, since: datetime, limit: int, start: str | None
) -> tuple[list[Availability], list[Meeting], str | None]:
    """(availabilities: published, joined and bookable; meetings; the token for the next
    page)."""
    found, key = query_parts(
        _parts(username, format_time(since), _bookable(username, since)),
        limit,
        start,
        fixed={"owner": username, "participant": username, "joinedBy": username},
    )
    published = [Availability.from_item(item) for part, item in found if part == "published"]
    meetings = [Meeting.from_item(item) for part, item in found if part in ("owned", "booked")]
    seats = [(item["sessionOwner"], item["sessionId"]) for part, item in found if part == "joined"]
    bookable = [Availability.from_item(item) for part, item in found if part == "bookable"]
    return published + get_sessions(seats) + bookable, meetings, key
