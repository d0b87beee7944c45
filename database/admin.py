"""What an admin lists: every user, availability and meeting, a page at a time.

These are the only reads in the project that Scan a table (tests/handlers/test_admin.py holds every
other function to Queries and key reads, and serverless.yml grants dynamodb:Scan to the three
admin list functions only): an admin asks for everything, and gets it in pages of at most
100. The page token is opaque, as elsewhere (database/paging.py): a token that does not decode
or whose key is not the table's is a 400.
"""

from database.client import (
    AVAILABILITIES_TABLE,
    MEETINGS_TABLE,
    USERS_TABLE,
    dynamodb,
    from_item,
    to_item,
    translate_errors,
)
from database.models import Availability, Meeting, OwnUser
from database.paging import MAX_READS_PER_PAGE, decode_key, encode_key


def _scan_page(
    request: dict, key: set[str], limit: int, start: str | None
) -> tuple[list[dict], str | None]:
    """Up to `limit` items of the Scan `request`, reading on while a filter leaves the page
    short (at most MAX_READS_PER_PAGE reads), and the token to resume from."""
    resume = start and to_item(decode_key(start, shapes=(key,), fixed={}))
    items: list[dict] = []
    for _ in range(MAX_READS_PER_PAGE):
        page = dynamodb().scan(
            **request,
            Limit=limit - len(items),
            **({"ExclusiveStartKey": resume} if resume else {}),
        )
        items.extend(from_item(item) for item in page["Items"])
        resume = page.get("LastEvaluatedKey")
        if resume is None or len(items) >= limit:
            break
    return items, encode_key(resume) if resume else None


@translate_errors
def all_users(limit: int, start: str | None) -> tuple[list[OwnUser], str | None]:
    # not the calendar feeds' token items (database/feed.py), which share the table
    request = {"TableName": USERS_TABLE, "FilterExpression": "attribute_not_exists(feedOwner)"}
    items, token = _scan_page(request, {"username"}, limit, start)
    return [OwnUser.from_item(item) for item in items], token


@translate_errors
def all_availabilities(limit: int, start: str | None) -> tuple[list[Availability], str | None]:
    request = {"TableName": AVAILABILITIES_TABLE}
    items, token = _scan_page(request, {"owner", "id"}, limit, start)
    return [Availability.from_item(item) for item in items], token


@translate_errors
def all_meetings(limit: int, start: str | None) -> tuple[list[Meeting], str | None]:
    """The one-to-one meetings (a group session's seats are not meetings: the session is in
    the availabilities)."""
    request = {
        "TableName": MEETINGS_TABLE,
        "FilterExpression": "attribute_exists(participant)",
    }
    items, token = _scan_page(request, {"id"}, limit, start)
    return [Meeting.from_item(item) for item in items], token
