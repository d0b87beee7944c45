"""An event's SEQUENCE (RFC 5545 3.8.7.4): a counter stored with each meeting and availability
that every change a calendar app must show (time, status, location, description) raises, so a
subscribed calendar replaces its copy instead of keeping the old one (docs/calendar-feed.md).

A change is an Update; `raised` adds one to the counter in that same Update, so the counter
moves exactly when the change commits. An item without the attribute (stored before version 4)
is at 0 and goes to 1.

A UID's SEQUENCE never goes down, and a one-to-one meeting's UID is its slot's id: a slot that
a cancel reopens and that is booked again makes a new meeting under the same id. So the
reopened availability keeps, as its own `sequence`, one more than the canceled meeting's, and a
booking starts the meeting at its availability's (`carried`): cancel, rebook, cancel and a move
back into the first slot only ever raise it."""

from typing import Any

from database.models import Availability

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


class Sequenced(Availability, kw_only=True):
    """An availability as the store holds it, with its sequence (which no response shows)."""

    sequence: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Sequenced":
        availability = super().from_item(item)
        assert isinstance(availability, Sequenced)
        availability.sequence = int(item.get(SEQUENCE, 0))
        return availability


def carried(availability: Availability) -> int:
    """The sequence a meeting booked from `availability` starts at: the one the availability
    keeps (read as a `Sequenced`), else 0 (an availability never booked and canceled)."""
    return availability.sequence if isinstance(availability, Sequenced) else 0


def reopened(meeting_sequence: int) -> int:
    """The sequence a slot reopened by the cancel of a meeting at `meeting_sequence` keeps:
    above the canceled meeting's (the cancel raises it by one)."""
    return meeting_sequence + 2
