"""An event's SEQUENCE (RFC 5545 3.8.7.4): a counter stored with each meeting and availability
that every change a calendar app must show (time, status, location, description) raises, so a
subscribed calendar replaces its copy instead of keeping the old one (docs/calendar-feed.md).

A change is an Update; `raised` adds one to the counter in that same Update, so the counter
moves exactly when the change commits. An item without the attribute (stored before version 4)
is at 0 and goes to 1."""

SEQUENCE = "sequence"


def raised(update: dict) -> dict:
    """`update` (a DynamoDB Update request or transaction item body) that also raises the
    item's sequence by one."""
    return {
        **update,
        "UpdateExpression": update["UpdateExpression"] + " ADD #sequence :sequenceStep",
        "ExpressionAttributeNames": {**update["ExpressionAttributeNames"], "#sequence": SEQUENCE},
        "ExpressionAttributeValues": {
            **update["ExpressionAttributeValues"],
            ":sequenceStep": {"N": "1"},
        },
    }
