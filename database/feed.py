"""Calendar feeds (contract v4, "Calendar feed (iCalendar)"): a player's secret address and the
events it shows.

The secret is a random token (256 bits) that is never stored. The address is
`<player>.<secret>.ics`, the player's name in base64url before the secret: the public route
finds the player's feed item (database/feed_version.py: `calendar-feed-of#<player>`) with one
GetItem on its key (no Scan) and compares the SHA-256 of the token with the hash that item
keeps, in constant time. That same item holds the player's feed version, which every change
their feed shows raises: a poll that finds it unchanged is answered 304 after that one read.
A stolen table dump gives no working address.

The player's own item keeps the hash too, as `calendarFeed`: rotation and revocation change it
and the feed item in one transaction, conditional on the hash read before, so the old address
stops working exactly when the new one starts. An address made before the player's name was in
it (`<secret>.ics`, 43 characters) still opens its feed through its token item
(`calendar-feed#<hash>`, `feedOwner`) until the player makes a new one or revokes it."""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from database import feed_version, parallel
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
# What secrets.token_urlsafe(TOKEN_BYTES) gives, after the player's name in base64url (a name
# has at most MAX_TEXT characters: 400 UTF-8 octets, 534 in base64). Anything else is no token
# of ours (a 404 with no database call); a bare secret is an address made before the name was
# in it.
TOKEN = re.compile(r"(?:(?P<owner>[A-Za-z0-9_-]{2,540})\.)?[A-Za-z0-9_-]{43}")
_ITEM_PREFIX = "calendar-feed#"  # a token item of an address made before the name was in it
FEED_ATTRIBUTE = "calendarFeed"  # the player's current hash, on their own users-table item
OWNER_ATTRIBUTE = feed_version.OWNER  # token and feed items: the admins' user list leaves them out
HASH_ATTRIBUTE = "tokenHash"

LOOK_BACK = timedelta(days=30)  # past events (and cancels) stay in the feed this long
PAGE = 100  # items read per part and round trip
MAX_EVENTS = 2000  # the most one feed serves: a bounded response, whatever the history
# The feed's parts are read on indexes, which DynamoDB updates a moment after the write: a feed
# read this soon after a change may not show it yet, so it is served without a validator (the
# next poll reads it again) instead of pinning its version to what may be the old events.
SETTLE = timedelta(minutes=5)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_key(digest: str) -> dict:
    return to_item({"username": _ITEM_PREFIX + digest})


def _name_part(username: str) -> str:
    return base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")


def _name_of(part: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Feed:
    """A live feed: whose it is, and the version of what it shows (database/feed_version.py)."""

    owner: str
    version: int
    changed_at: int  # epoch second of the last change it shows (0: none recorded)

    def settled(self, at: datetime) -> bool:
        """The indexes the feed is read from have caught up with its last change."""
        return at.timestamp() - self.changed_at >= SETTLE.total_seconds()


@translate_errors
def rotate(username: str) -> str:
    """A new secret token for `username`'s feed (returned once, never stored); the one before
    it, if any, stops working. 404 for a player with no profile."""
    return _replace(username, f"{_name_part(username)}.{secrets.token_urlsafe(TOKEN_BYTES)}")


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
        feed_change, feed_values = "SET #owner = :owner REMOVE #hash", {":owner": username}
    else:
        change, names = "SET #feed = :new", {"#feed": FEED_ATTRIBUTE}
        values[":new"] = _hash(token)
        feed_change = "SET #owner = :owner, #hash = :new"
        feed_values = {":owner": username, ":new": _hash(token)}
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
        },
        {
            "Update": {
                "TableName": USERS_TABLE,
                "Key": feed_version.key(username),
                "UpdateExpression": feed_change,
                "ExpressionAttributeNames": {"#owner": OWNER_ATTRIBUTE, "#hash": HASH_ATTRIBUTE},
                "ExpressionAttributeValues": to_item(feed_values),
            }
        },
    ]
    if old:  # the token item of an address made before the name was in it, if it was one
        writes.append({"Delete": {"TableName": USERS_TABLE, "Key": _token_key(old)}})
    try:
        dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error_code(error) == "TransactionCanceledException":
            raise Conflict("The calendar feed changed meanwhile: please try again") from error
        raise
    return token or ""


@translate_errors
def open_feed(token: str) -> Feed | None:
    """The feed `token` opens, with its version; None for a malformed, unknown or revoked one
    (a malformed one makes no database call). One GetItem (two for an address made before
    the player's name was in it)."""
    match = TOKEN.fullmatch(token)
    if match is None:
        return None
    digest = _hash(token)
    if match["owner"] is None:
        return _open_unnamed(digest)
    owner = _name_of(match["owner"])
    if owner is None:
        return None
    item = (
        dynamodb()
        .get_item(TableName=USERS_TABLE, Key=feed_version.key(owner), ConsistentRead=True)
        .get("Item")
    )
    return _feed(owner, from_item(item) if item else {}, digest)


def _feed(owner: str, stored: dict, digest: str) -> Feed | None:
    # Compared in constant time: the hash is the secret's stand-in, and nothing about it may
    # leak through how long a refusal takes.
    if not hmac.compare_digest(str(stored.get(HASH_ATTRIBUTE, "")), digest):
        return None
    if stored.get(OWNER_ATTRIBUTE) != owner:
        return None
    return Feed(
        owner,
        int(stored.get(feed_version.VERSION, 0)),
        int(stored.get(feed_version.CHANGED_AT, 0)),
    )


def _open_unnamed(digest: str) -> Feed | None:
    item = dynamodb().get_item(TableName=USERS_TABLE, Key=_token_key(digest)).get("Item")
    if item is None:
        return None
    owner = from_item(item).get(OWNER_ATTRIBUTE)
    if not isinstance(owner, str) or not _feed(owner, from_item(item), digest):
        return None
    versions = dynamodb().get_item(
        TableName=USERS_TABLE, Key=feed_version.key(owner), ConsistentRead=True
    )
    stored = from_item(versions["Item"]) if "Item" in versions else {}
    return Feed(
        owner,
        int(stored.get(feed_version.VERSION, 0)),
        int(stored.get(feed_version.CHANGED_AT, 0)),
    )


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
