"""A player's calendar: what they published, the meetings they are in and the group sessions
they joined, from a time on, paged together by one token. Every read is a Query on a key or an
index (and one BatchGetItem for the joined sessions): nothing scans a table."""

from datetime import datetime

from database.availabilities import owned_query
from database.client import MEETINGS_TABLE, to_item, translate_errors
from database.meetings import get_sessions, member_parts
from database.models import SCHEDULED, Availability, Meeting
from database.paging import Part, query_parts
from database.times import format_time


def _parts(username: str, since: str) -> list[Part]:
    joined = {
        "TableName": MEETINGS_TABLE,
        "IndexName": "JoinedIndex",
        "KeyConditionExpression": "joinedBy = :member AND #start >= :since",
        "FilterExpression": "#status = :scheduled",  # not the seats the player gave up
        "ExpressionAttributeNames": {"#start": "startTime", "#status": "status"},
        "ExpressionAttributeValues": to_item(
            {":member": username, ":since": since, ":scheduled": SCHEDULED}
        ),
    }
    return [
        Part("published", owned_query(username, since), frozenset({"owner", "id"})),
        *member_parts(username, since),
        Part(
            "joined",
            joined,
            frozenset({"joinedBy", "startTime", "id"}),
            starts_at=("startTime", since),
        ),
    ]


@translate_errors
def calendar(
    username: str, since: datetime, limit: int, start: str | None
) -> tuple[list[Availability], list[Meeting], str | None]:
    """(availabilities: published and joined, meetings, the token for the next page)."""
    found, key = query_parts(
        _parts(username, format_time(since)),
        limit,
        start,
        fixed={"owner": username, "participant": username, "joinedBy": username},
    )
    published = [Availability.from_item(item) for part, item in found if part == "published"]
    meetings = [Meeting.from_item(item) for part, item in found if part in ("owned", "booked")]
    seats = [(item["sessionOwner"], item["sessionId"]) for part, item in found if part == "joined"]
    return published + get_sessions(seats), meetings, key
