"""Calendar feeds (contract v4, "Calendar feed (iCalendar)"): a player's secret address and the
events it shows.

The secret is a random token (256 bits) that is never stored: the users table keeps its SHA-256
twice, as the player's `calendarFeed` and as the key of a token item
(`username` = `calendar-feed#<hash>`, `feedOwner` = the player), so the public route finds the
owner with one GetItem on a key (no Scan) and a stolen table dump gives no working address.
Rotation and revocation change both in one transaction, conditional on the hash read before:
the old address stops working exactly when the new one starts."""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from database import parallel
from database.client import (
    AVAILABILITIES_TABLE,
    USERS_TABLE,
    dynamodb,
    error_code,
    from_item,
    to_item,
    translate_errors,
)
from database.errors import Conflict, NotFound
from database.meetings import get_sessions_items, joined_part, member_parts
from database.paging import Part, query_parts
from database.times import format_time

TOKEN_BYTES = 32  # 256 random bits (the contract asks for at least 128)
# What secrets.token_urlsafe(TOKEN_BYTES) gives: anything else is no token of ours (a 404 with
# no database call).
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_ITEM_PREFIX = "calendar-feed#"
FEED_ATTRIBUTE = "calendarFeed"  # the player's current hash, on their own users-table item
OWNER_ATTRIBUTE = "feedOwner"  # on a token item only: admin's user listing leaves those out

LOOK_BACK = timedelta(days=30)  # past events (and cancels) stay in the feed this long
PAGE = 100  # items read per part and round trip
MAX_EVENTS = 2000  # the most one feed serves: a bounded response, whatever the history


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_key(digest: str) -> dict:
    return to_item({"username": _ITEM_PREFIX + digest})


@translate_errors
def rotate(username: str) -> str:
    """A new secret token for `username`'s feed (returned once, never stored); the one before
    it, if any, stops working. 404 for a player with no profile."""
    return _replace(username, secrets.token_urlsafe(TOKEN_BYTES))


@translate_errors
def revoke(username: str) -> None:
    """`username`'s feed address stops working (none: nothing changes)."""
    _replace(username, None)


def _replace(username: str, token: str | None) -> str:
    user = (
        dynamodb()
        .get_item(
            TableName=USERS_TABLE,
            Key=to_item({"username": username}),
            ProjectionExpression="username, #feed",
            ExpressionAttributeNames={"#feed": FEED_ATTRIBUTE},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if user is None:
        raise NotFound("User not found")
    old = from_item(user).get(FEED_ATTRIBUTE)
    if old is None and token is None:
        return ""
    # The player's item still holds the hash read above (a concurrent rotation: 409).
    condition = "attribute_exists(username) AND " + (
        "#feed = :old" if old else "attribute_not_exists(#feed)"
    )
    values = {":old": old} if old else {}
    if token is None:
        change, names = "REMOVE #feed", {"#feed": FEED_ATTRIBUTE}
    else:
        change, names = "SET #feed = :new", {"#feed": FEED_ATTRIBUTE}
        values[":new"] = _hash(token)
    writes: list[dict] = [
        {
            "Update": {
                "TableName": USERS_TABLE,
                "Key": to_item({"username": username}),
                "UpdateExpression": change,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                **({"ExpressionAttributeValues": to_item(values)} if values else {}),
            }
        }
    ]
    if old:
        writes.append({"Delete": {"TableName": USERS_TABLE, "Key": _token_key(old)}})
    if token is not None:
        writes.append(
            {
                "Put": {
                    "TableName": USERS_TABLE,
                    "Item": {
                        **_token_key(_hash(token)),
                        **to_item({OWNER_ATTRIBUTE: username, "tokenHash": _hash(token)}),
                    },
                    "ConditionExpression": "attribute_not_exists(username)",
                }
            }
        )
    try:
        dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error_code(error) == "TransactionCanceledException":
            raise Conflict("The calendar feed changed meanwhile: please try again") from error
        raise
    return token or ""


@translate_errors
def owner_of(token: str) -> str | None:
    """The player whose feed `token` opens; None for a malformed, unknown or revoked one."""
    if not TOKEN.fullmatch(token):
        return None
    digest = _hash(token)
    item = dynamodb().get_item(TableName=USERS_TABLE, Key=_token_key(digest)).get("Item")
    if item is None:
        return None
    stored = from_item(item)
    # Found by its hash, so equal: compared again in constant time all the same, so that no
    # later change of the lookup (a prefix, an index) can turn this into a timing oracle.
    if not hmac.compare_digest(str(stored.get("tokenHash", "")), digest):
        return None
    owner = stored.get(OWNER_ATTRIBUTE)
    return owner if isinstance(owner, str) else None


def _parts(username: str, since: str) -> list[Part]:
    sessions = {
        "TableName": AVAILABILITIES_TABLE,
        "KeyConditionExpression": "#owner = :owner",
        # group sessions with someone in them; a one-to-one slot is not an event until booked
        "FilterExpression": "#start >= :since AND participantCount > :zero",
        "ExpressionAttributeNames": {"#owner": "owner", "#start": "startTime"},
        "ExpressionAttributeValues": to_item({":owner": username, ":since": since, ":zero": 0}),
    }
    return [
        *member_parts(username, since),
        Part("sessions", sessions, frozenset({"owner", "id"})),
        joined_part(username, since),
    ]


@translate_errors
def feed_items(username: str, now: datetime) -> tuple[list[dict], list[dict]]:
    """(`username`'s one-to-one meetings, the group sessions they own with participants or
    joined), as stored, starting `LOOK_BACK` before `now` or later, at most MAX_EVENTS. The
    parts are read at the same time, page after page; the joined sessions then in batches."""
    since = format_time(now - LOOK_BACK)
    parts = _parts(username, since)
    meetings: list[dict] = []
    sessions: list[dict] = []
    seats: list[tuple[str, str]] = []
    token = None
    while len(meetings) + len(sessions) + len(seats) < MAX_EVENTS:
        found, token = query_parts(
            parts,
            PAGE,
            token,
            fixed={"owner": username, "participant": username, "joinedBy": username},
        )
        for part, item in found:
            if part in ("owned", "booked"):
                meetings.append(item)
            elif part == "sessions":
                sessions.append(item)
            else:
                seats.append((item["sessionOwner"], item["sessionId"]))
        if token is None:
            break
    batches = [seats[n : n + 100] for n in range(0, len(seats), 100)]  # BatchGetItem's limit
    for found in parallel.together(*(lambda b=b: get_sessions_items(b) for b in batches)):
        sessions.extend(found)
    return meetings, sessions
