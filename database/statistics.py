"""The statistics table (`id`): the two counter items, `availabilityStatistics` and
`meetingStatistics`, and a claim per stream record counted (`counted#<eventID>`, expiring by
TTL long after the stream could redeliver it).

A record is counted by one transaction: the claim, put only if absent, and the ADDs to the
counters. A record delivered again (Lambda retries a batch from its first failed record, and
redelivers after a crash or timeout) finds its claim and changes nothing; a transaction that
fails changes nothing either, and is retried with the record.
"""

from collections.abc import Mapping
from datetime import timedelta

from botocore.exceptions import ClientError

from database import parallel, settings
from database.client import (
    dynamodb,
    error_code,
    from_item,
    to_item,
    translate_errors,
)
from database.times import now
from database.users import get_user


def statistics_table() -> str:
    # At first use, not at import: only the functions that count or read statistics need it.
    return settings.table("STATISTICS_TABLE")


# A stream keeps a record 24 hours; a claim outlives any redelivery of it.
CLAIM_RETENTION = timedelta(days=7)
COUNTERS = ("availabilityStatistics", "meetingStatistics")


def claim_key(event_id: str) -> str:
    return f"counted#{event_id}"


@translate_errors
def count_once(event_id: str, counts: Mapping[str, Mapping[str, int]]) -> bool:
    """Adds `counts` ({counter item: {attribute: increment}}) unless the stream record
    `event_id` was counted already; False when it was (nothing changes)."""
    writes = [
        {
            "Put": {
                "TableName": statistics_table(),
                "Item": to_item(
                    {
                        "id": claim_key(event_id),
                        "expirationTime": int((now() + CLAIM_RETENTION).timestamp()),
                    }
                ),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }
    ]
    for item_id, increments in sorted(counts.items()):
        names = {f"#c{n}": name for n, name in enumerate(sorted(increments))}
        writes.append(
            {
                "Update": {
                    "TableName": statistics_table(),
                    "Key": to_item({"id": item_id}),
                    "UpdateExpression": "ADD " + ", ".join(f"{n} :{n[1:]}" for n in names),
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": to_item(
                        {f":{n[1:]}": increments[name] for n, name in names.items()}
                    ),
                }
            }
        )
    try:
        dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        reasons = error.response.get("CancellationReasons") or [{}]
        if (
            error_code(error) == "TransactionCanceledException"
            and reasons[0].get("Code") == "ConditionalCheckFailed"
        ):
            return False
        raise
    return True


@translate_errors
def get_counters() -> dict[str, dict]:
    """The two counter items as stored (absent: nothing counted yet), read at the same time."""
    items = parallel.together(
        *(
            lambda item_id=item_id: dynamodb().get_item(
                TableName=statistics_table(), Key=to_item({"id": item_id})
            )
            for item_id in COUNTERS
        )
    )
    return {
        item_id: from_item(found["Item"]) if "Item" in found else {}
        for item_id, found in zip(COUNTERS, items, strict=True)
    }


class TableLookups:
    """What a stream record's images do not say (the players' cohorts), read when counted."""

    def cohort(self, username: str) -> str:
        user = get_user(username)
        return user.dojoCohort if user else ""
