"""The notifications table: idempotency claims of Discord side effects, and announcement posts.

Used by the notify function only. Two kinds of items, keyed by `id`:

- `change#<eventID>#<action>`: the claim of one side effect of one stream record. `state` is
  SENDING from the conditional put just before the Discord call, then SENT (or REJECTED, or
  SKIPPED). A redelivered record finds the claim and does nothing: a message is sent at most
  once. A claim is deleted again only when the call certainly did not deliver (Discord said
  5xx/429, or never answered a connection), so the redelivery sends it. One left SENDING (the
  function died mid-call, or Discord never answered a sent request) is never retried.
- `announcement#<owner>#<availabilityId>`: the channel post of an open availability
  (`channelId`, `messageId`), to delete it when the availability is no longer open.

Both expire by TTL (`expirationTime`): claims a week after the change (a stream keeps a record
24 h), announcements with their availability.
"""

import time

from database import settings
from database.client import USERS_TABLE, conditional, dynamodb, from_item, to_item


def notifications_table() -> str:
    # At first use, not at import: only the notify function's claims need it.
    return settings.table("NOTIFICATIONS_TABLE")


SENDING, SENT, REJECTED, SKIPPED = "SENDING", "SENT", "REJECTED", "SKIPPED"
CLAIM_SECONDS = 7 * 24 * 3600


def claim_key(change_id: str, action: str) -> str:
    return f"change#{change_id}#{action}"


def _announcement_key(owner: str, availability_id: str) -> str:
    return f"announcement#{owner}#{availability_id}"


def recipient(username: str) -> dict | None:
    """What notifying `username` needs: Discord name and settings (None: no such user)."""
    item = dynamodb().get_item(
        TableName=USERS_TABLE,
        Key=to_item({"username": username}),
        ProjectionExpression="discordUsername, disableBookingNotifications, "
        "disableCancellationNotifications",
    )
    return from_item(item["Item"]) if "Item" in item else None


def claim(key: str) -> bool:
    """Claims the side effect `key`: True for the first caller, False ever after."""
    claimed = conditional(
        dynamodb().put_item,
        TableName=notifications_table(),
        Item=to_item(
            {
                "id": key,
                "state": SENDING,
                "claimedAt": int(time.time()),
                "expirationTime": int(time.time()) + CLAIM_SECONDS,
            }
        ),
        ConditionExpression="attribute_not_exists(id)",
    )
    return claimed is not None


def claim_state(key: str) -> str | None:
    item = dynamodb().get_item(
        TableName=notifications_table(), Key=to_item({"id": key}), ConsistentRead=True
    )
    return from_item(item["Item"])["state"] if "Item" in item else None


def finish(key: str, state: str) -> None:
    """Records how a claimed side effect ended (SENT, REJECTED or SKIPPED)."""
    dynamodb().update_item(
        TableName=notifications_table(),
        Key=to_item({"id": key}),
        UpdateExpression="SET #state = :state",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues=to_item({":state": state}),
    )


def release(key: str) -> None:
    """Gives a claim back: the side effect certainly did not happen, a redelivery may do it."""
    conditional(
        dynamodb().delete_item,
        TableName=notifications_table(),
        Key=to_item({"id": key}),
        ConditionExpression="#state = :sending",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues=to_item({":sending": SENDING}),
    )


def save_announcement(
    key: str, owner: str, availability_id: str, channel_id: str, message_id: str, expires: int
) -> None:
    """Marks the claim `key` SENT and remembers the post, in one transaction (so a post
    recorded as sent can always be found again to delete it)."""
    dynamodb().transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": notifications_table(),
                    "Key": to_item({"id": key}),
                    "UpdateExpression": "SET #state = :state",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": to_item({":state": SENT}),
                }
            },
            {
                "Put": {
                    "TableName": notifications_table(),
                    "Item": to_item(
                        {
                            "id": _announcement_key(owner, availability_id),
                            "channelId": channel_id,
                            "messageId": message_id,
                            "expirationTime": expires or int(time.time()) + CLAIM_SECONDS,
                        }
                    ),
                }
            },
        ]
    )


def announcement(owner: str, availability_id: str) -> dict | None:
    """The post announcing that availability ({channelId, messageId}), if there is one."""
    item = dynamodb().get_item(
        TableName=notifications_table(),
        Key=to_item({"id": _announcement_key(owner, availability_id)}),
        ConsistentRead=True,
    )
    return from_item(item["Item"]) if "Item" in item else None


def forget_announcement(owner: str, availability_id: str, message_id: str) -> None:
    """Drops the record of a deleted post (unless a newer post replaced it meanwhile)."""
    conditional(
        dynamodb().delete_item,
        TableName=notifications_table(),
        Key=to_item({"id": _announcement_key(owner, availability_id)}),
        ConditionExpression="messageId = :message",
        ExpressionAttributeValues=to_item({":message": message_id}),
    )
