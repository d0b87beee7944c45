"""The meetings table (`id`) and its indexes: `OwnerIndex` / `ParticipantIndex` (member + `id`)
for one-to-one meetings, and `JoinedIndex` (`joinedBy` + `startTime`) for the seats players
hold in group sessions.

A seat is an item of this table (`id` = `seat#<session id>#<username>`, see
availabilities.seat_id) with no `owner` or `participant`: it is in neither member index, so
version 1's reads never see it, and is how "the sessions I joined" is a Query, not a Scan.
"""

from dataclasses import dataclass

from botocore.exceptions import ClientError

from database.availabilities import seat_id, stored
from database.client import (
    AVAILABILITIES_TABLE,
    MEETINGS_TABLE,
    batch_get,
    dynamodb,
    error_code,
    from_item,
    to_item,
    translate_errors,
)
from database.errors import Conflict
from database.models import CANCELED, SCHEDULED, Availability, Meeting
from database.paging import Part, query_parts


def member_parts(username: str, since: str | None = None) -> list[Part]:
    """A member's meetings, side after side: those they own, then those they booked."""
    return [
        _member_part("owned", "OwnerIndex", "owner", username, since),
        _member_part("booked", "ParticipantIndex", "participant", username, since),
    ]


def _member_part(name: str, index: str, member: str, username: str, since: str | None) -> Part:
    request = {
        "TableName": MEETINGS_TABLE,
        "IndexName": index,
        "KeyConditionExpression": "#member = :member",
        "ExpressionAttributeNames": {"#member": member},
        "ExpressionAttributeValues": to_item({":member": username}),
    }
    if since is not None:
        request["FilterExpression"] = "#start >= :since"
        request["ExpressionAttributeNames"]["#start"] = "startTime"
        request["ExpressionAttributeValues"].update(to_item({":since": since}))
    return Part(name, request, frozenset({member, "id"}))


@translate_errors
def get_meeting(meeting_id: str) -> Meeting | None:
    item = dynamodb().get_item(TableName=MEETINGS_TABLE, Key=to_item({"id": meeting_id}))
    return _meeting(item.get("Item"))


def _meeting(item: dict | None) -> Meeting | None:
    """The one-to-one meeting in a meetings-table item; None for none, or for a seat."""
    return Meeting.from_item(from_item(item)) if item and "owner" in item else None


@translate_errors
def list_for_member(
    username: str, limit: int, start: str | None
) -> tuple[list[Meeting], str | None]:
    """The meetings `username` owns or booked, each exactly once across pages."""
    found, key = query_parts(
        member_parts(username),
        limit,
        start,
        fixed={"owner": username, "participant": username},
    )
    return [Meeting.from_item(item) for _, item in found], key


@dataclass
class Booking:
    """A one-to-one meeting and the availability it was booked from (None for a version 1
    meeting, which kept no copy of it)."""

    meeting: Meeting
    availability: Availability | None


@dataclass
class CancelTargets:
    """What `PUT /meeting/cancel/{id}` may mean for the caller, read in one round trip."""

    booking: Booking | None  # the one-to-one meeting with that id
    has_seat: bool  # the caller joined a group session with that id (and may have left it)...
    session: Availability | None  # ...this one (found through the seat), or the caller's own


@translate_errors
def cancel_targets(meeting_id: str, caller: str) -> CancelTargets:
    """The meeting `meeting_id`, the caller's seat in a session with that id and the caller's
    own availability with that id, then the session the seat is in."""
    found = batch_get(
        {
            MEETINGS_TABLE: [{"id": meeting_id}, {"id": seat_id(meeting_id, caller)}],
            AVAILABILITIES_TABLE: [{"owner": caller, "id": meeting_id}],
        }
    )
    booking = None
    meeting_item = found.get((MEETINGS_TABLE, meeting_id))
    if (meeting := _meeting(meeting_item)) is not None:
        snapshot = from_item(meeting_item).get("availability")
        booking = Booking(meeting, snapshot and Availability.from_item(snapshot))
    seat = found.get((MEETINGS_TABLE, seat_id(meeting_id, caller)))
    session = found.get((AVAILABILITIES_TABLE, caller, meeting_id))
    if seat is not None:
        seat = from_item(seat)
        owner = seat["sessionOwner"]
        session = batch_get({AVAILABILITIES_TABLE: [{"owner": owner, "id": meeting_id}]}).get(
            (AVAILABILITIES_TABLE, owner, meeting_id)
        )
    return CancelTargets(
        booking=booking,
        has_seat=seat is not None,
        session=session and Availability.from_item(from_item(session)),
    )


def get_sessions(keys: list[tuple[str, str]]) -> list[Availability]:
    """The group sessions (owner, id) in `keys`, in that order (those gone are left out)."""
    if not keys:
        return []
    found = batch_get({AVAILABILITIES_TABLE: [{"owner": o, "id": i} for o, i in keys]})
    items = (found.get((AVAILABILITIES_TABLE, o, i)) for o, i in keys)
    return [Availability.from_item(from_item(item)) for item in items if item]


@translate_errors
def cancel(booking: Booking, by: str, *, reopen: bool) -> Meeting:
    """Cancels a one-to-one meeting `by` one of its members; with `reopen`, the availability it
    was booked from is open again, exactly as published, in the same transaction. Canceling
    again changes nothing and answers the canceled meeting."""
    meeting = booking.meeting
    update = {
        "TableName": MEETINGS_TABLE,
        "Key": to_item({"id": meeting.id}),
        "UpdateExpression": "SET #status = :canceled, canceledBy = :by",
        # The booking read, not a newer one of the same slot, and only once.
        "ConditionExpression": "participant = :participant AND "
        "(attribute_not_exists(#status) OR #status = :scheduled)",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": to_item(
            {
                ":canceled": CANCELED,
                ":scheduled": SCHEDULED,
                ":by": by,
                ":participant": meeting.participant,
            }
        ),
    }
    writes = [{"Update": update}]
    if reopen:
        writes.append(
            {
                "Put": {
                    "TableName": AVAILABILITIES_TABLE,
                    "Item": to_item(stored(booking.availability)),
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
        )
    try:
        dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error_code(error) != "TransactionCanceledException":
            raise
        current = get_meeting(meeting.id)
        if (
            current is not None
            and current.status == CANCELED
            and current.participant == meeting.participant
        ):
            return current  # a concurrent cancel got there first: the same outcome
        raise Conflict("This meeting changed while you canceled it: please try again") from error
    meeting.status = CANCELED
    return meeting
