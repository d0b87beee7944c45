"""The reminders table (`id`) and its sparse `DueIndex` (`dueBucket` + `dueKey`): one item per
reminder owed (meeting or session, start, member, minutes), written by planReminders and sent
by sendReminders (docs/reminders.md).

A pending reminder carries `dueBucket` (the UTC hour it is due in, `2026-12-08T17`) and
`dueKey` (`<dueAt>#<id>`), so sendReminders finds what is due with one Query per hour of its
catch-up window, never a Scan; both are removed once the reminder is settled (sent on every
channel, refused, or dropped), so the index holds only pending work. Each channel's send is
claimed with a conditional write before it (`<channel>State` SENDING, then SENT or REJECTED):
of duplicate or concurrent runs only one sends. A claim is released when the send certainly
failed, and one older than the lease (a run that died mid-send) may be claimed again. Items
expire by TTL two days after the start.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from database import settings
from database.client import (
    AVAILABILITIES_TABLE,
    MEETINGS_TABLE,
    USERS_TABLE,
    batch_get,
    conditional,
    dynamodb,
    from_item,
    query_items,
    to_item,
)
from database.times import format_time

SENDING, SENT, REJECTED = "SENDING", "SENT", "REJECTED"
DISCORD, EMAIL = "discord", "email"
INDEX = "DueIndex"
BATCH_KEYS = 100  # BatchGetItem's most keys per request


def reminders_table() -> str:
    # At first use, not at import: only the reminders' functions need it.
    return settings.table("REMINDERS_TABLE")


def bucket(at: datetime) -> str:
    """The UTC hour `at` falls in, as DueIndex's partition: `2026-12-08T17`."""
    return _bucket(format_time(at))


def _bucket(stamp: str) -> str:
    """The hour of a stored time (`2026-12-08T17:45:00Z`): its first 13 characters."""
    return stamp[:13]


def plan(item: dict) -> bool:
    """Stores one reminder owed (notifications.reminders.reminder_item), pending; False when it
    exists already (a redelivered change, or sent or settled before): never twice."""
    due_at = item["dueAt"]
    stored = conditional(
        dynamodb().put_item,
        TableName=reminders_table(),
        Item=to_item({**item, "dueBucket": _bucket(due_at), "dueKey": f"{due_at}#{item['id']}"}),
        ConditionExpression="attribute_not_exists(id)",
    )
    return stored is not None


def due(at: datetime, catch_up: timedelta) -> Iterator[dict]:
    """Every pending reminder due from `at` - `catch_up` to `at`, oldest first: one Query of
    DueIndex per hour bucket (the index is eventually consistent; the claims are not)."""
    low, high = format_time(at - catch_up), f"{format_time(at)}#~"  # '~' after any id's char
    hour = (at - catch_up).replace(minute=0, second=0, microsecond=0)
    while hour <= at:
        yield from (
            from_item(item)
            for item in query_items(
                {
                    "TableName": reminders_table(),
                    "IndexName": INDEX,
                    "KeyConditionExpression": "dueBucket = :bucket AND dueKey BETWEEN :low "
                    "AND :high",
                    "ExpressionAttributeValues": to_item(
                        {":bucket": bucket(hour), ":low": low, ":high": high}
                    ),
                }
            )
        )
        hour += timedelta(hours=1)


def claim(reminder_id: str, channel: str, at: int, lease: int) -> bool:
    """Claims the send of the reminder on `channel` at `at` (epoch seconds): True for the one
    caller that may send now. A claim older than `lease` seconds is a dead run's: taken over."""
    return _update(
        reminder_id,
        UpdateExpression="SET #state = :sending, #claimed = :at",
        ConditionExpression="attribute_exists(dueBucket) AND (attribute_not_exists(#state) "
        "OR (#state = :sending AND #claimed < :expired))",
        ExpressionAttributeNames=_channel(channel),
        ExpressionAttributeValues=to_item({":sending": SENDING, ":at": at, ":expired": at - lease}),
    )


def finish(reminder_id: str, channel: str, state: str, claimed_at: int) -> bool:
    """Records how the send claimed at `claimed_at` ended: SENT or REJECTED (never tried again).
    False when that claim is not held any more (a run that outlived its lease, whose claim was
    taken over): the run holding it records its own outcome."""
    return _update(
        reminder_id,
        UpdateExpression="SET #state = :state",
        ConditionExpression="#state = :sending AND #claimed = :at",
        ExpressionAttributeNames=_channel(channel),
        ExpressionAttributeValues=to_item(
            {":state": state, ":sending": SENDING, ":at": claimed_at}
        ),
    )


def release(reminder_id: str, channel: str, claimed_at: int) -> None:
    """Gives a claim back: the send certainly failed, the next run tries again."""
    _update(
        reminder_id,
        UpdateExpression="REMOVE #state, #claimed",
        ConditionExpression="#state = :sending AND #claimed = :at",
        ExpressionAttributeNames=_channel(channel),
        ExpressionAttributeValues=to_item({":sending": SENDING, ":at": claimed_at}),
    )


def retry(reminder_id: str, at: datetime) -> None:
    """Keeps a reminder some channel still owes in the catch-up window: due again at `at`."""
    _update(
        reminder_id,
        UpdateExpression="SET dueBucket = :bucket, dueKey = :key",
        ConditionExpression="attribute_exists(dueBucket)",
        ExpressionAttributeValues=to_item(
            {":bucket": bucket(at), ":key": f"{format_time(at)}#{reminder_id}"}
        ),
    )


def settle(reminder_id: str, outcome: str) -> bool:
    """Takes the reminder out of DueIndex for good, saying why (`sent`, `canceled`, `late`...);
    False when another run settled it first."""
    return _update(
        reminder_id,
        UpdateExpression="SET outcome = :outcome REMOVE dueBucket, dueKey",
        ConditionExpression="attribute_exists(dueBucket)",
        ExpressionAttributeValues=to_item({":outcome": outcome}),
    )


def _update(reminder_id: str, **update: Any) -> bool:
    """Applies `update` (an UpdateItem's expressions) to the reminder: False when its
    condition did not hold (a race lost or a repeat: nothing changed)."""
    answer = conditional(
        dynamodb().update_item,
        TableName=reminders_table(),
        Key=to_item({"id": reminder_id}),
        **update,
    )
    return answer is not None


def _channel(channel: str) -> dict[str, str]:
    """The names of a channel's send state and the time it was claimed or ended."""
    return {"#state": f"{channel}State", "#claimed": f"{channel}At"}


def get(reminder_id: str) -> dict | None:
    item = dynamodb().get_item(
        TableName=reminders_table(), Key=to_item({"id": reminder_id}), ConsistentRead=True
    )
    return from_item(item["Item"]) if "Item" in item else None


def current_meeting(kind: str, owner: str, meeting_id: str) -> dict | None:
    """The meeting (kind `meeting`) or group session (`session`) as it is now: a consistent
    read, so a cancel or a move committed before it is seen."""
    if kind == "meeting":
        table, key = MEETINGS_TABLE, {"id": meeting_id}
    else:
        table, key = AVAILABILITIES_TABLE, {"owner": owner, "id": meeting_id}
    item = dynamodb().get_item(TableName=table, Key=to_item(key), ConsistentRead=True)
    return from_item(item["Item"]) if "Item" in item else None


# What a reminder needs of a player: where to send it, their settings, how to name them.
PROFILE = (
    "username",
    "discordUsername",
    "email",
    "timezone",
    "reminderMinutes",
    "disableReminderEmails",
)


def profiles(usernames: set[str]) -> dict[str, dict]:
    """The players' profiles (PROFILE's fields), in one round trip; a player who is gone has
    none."""
    names, wanted, found = sorted(usernames), set(PROFILE), {}
    for first in range(0, len(names), BATCH_KEYS):
        keys = [{"username": name} for name in names[first : first + BATCH_KEYS]]
        found.update(batch_get({USERS_TABLE: keys}))
    return {
        key[1]: {name: value for name, value in from_item(item).items() if name in wanted}
        for key, item in found.items()
    }


def reminder_minutes(usernames: set[str]) -> dict[str, list[int]]:
    """Each player's `reminderMinutes` ([60] unless they set it; a player who is gone: none)."""
    from database.models import DEFAULT_REMINDER_MINUTES

    return {
        name: list(profile.get("reminderMinutes", DEFAULT_REMINDER_MINUTES))
        for name, profile in profiles(usernames).items()
    }
