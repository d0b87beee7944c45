"""Each player's calendar-feed version (docs/calendar-feed.md, "Polling and cost"): a counter
that every change a player's feed shows raises, in the same transaction as the change, so
that a poll that finds it unchanged is answered 304 after one GetItem.

It lives on an item of its own in the users table, keyed by the player's name
(`username` = `calendar-feed-of#<player>`): the writers know the players a change shows for,
never their tokens. The same item holds the hash of the player's current feed token
(database/feed.py), and the address names the player, so the feed's one GetItem reads both.
`feedOwner` keeps it out of the admins' user list (database/admin.py), like the token items.

The Update has no condition: a change never fails for a player who has no feed (the item is
made then, and opens nothing until an address is made). It also stamps `feedChangedAt`, the
epoch second of the change: the feed's indexes are eventually consistent, so a feed read just
after a change may not hold it yet, and is served without a validator until it has settled."""

import random
import time
from collections.abc import Iterable, Sequence
from datetime import datetime

from botocore.exceptions import ClientError

from database.client import USERS_TABLE, dynamodb, error_code, to_item

PREFIX = "calendar-feed-of#"
OWNER = "feedOwner"
VERSION = "feedVersion"
CHANGED_AT = "feedChangedAt"
TRANSACTION_LIMIT = 100  # DynamoDB's items in one TransactWriteItems
# A player's feed item is written by each of their changes: two changes of one coach's meetings
# at the same moment (two players booking two of their slots) meet on it, and DynamoDB cancels
# one transaction (TransactionConflict) though neither refused the other. Such a transaction
# is tried again, a few times, after a short random wait.
ATTEMPTS = 4
BACKOFF = 0.02  # seconds, doubled each time


def key(username: str) -> dict:
    return to_item({"username": PREFIX + username})


def raises(usernames: Iterable[str], at: datetime) -> list[dict]:
    """The transaction items raising the feed version of each player in `usernames` (each
    once: a transaction writes an item once), in name order."""
    return [
        {
            "Update": {
                "TableName": USERS_TABLE,
                "Key": key(username),
                "UpdateExpression": "SET #owner = :owner, #changed = :at ADD #version :one",
                "ExpressionAttributeNames": {
                    "#owner": OWNER,
                    "#changed": CHANGED_AT,
                    "#version": VERSION,
                },
                "ExpressionAttributeValues": to_item(
                    {":owner": username, ":at": int(at.timestamp()), ":one": 1}
                ),
            }
        }
        for username in sorted(set(usernames))
    ]


def transact(items: Sequence[dict]) -> None:
    """TransactWriteItems of `items` (which raise feed versions), tried again while DynamoDB
    cancels it only for a conflict with another transaction on one of its items: nothing was
    written then, and the conditions are evaluated again. Any other failure (a condition
    that failed) is raised at once, as is the conflict after the last attempt."""
    for attempt in range(ATTEMPTS):
        try:
            dynamodb().transact_write_items(TransactItems=list(items))
            return
        except ClientError as error:
            if attempt + 1 == ATTEMPTS or not conflict_only(error):
                raise
        time.sleep(random.uniform(0, BACKOFF * 2**attempt))


def conflict_only(error: ClientError) -> bool:
    """The transaction was canceled for a conflict with another one, and for nothing else."""
    if error_code(error) == "TransactionConflictException":
        return True
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = {r.get("Code", "None") for r in error.response.get("CancellationReasons", [])}
    return "TransactionConflict" in reasons and reasons <= {"TransactionConflict", "None"}
