"""The meetings table (`id`) and its indexes: `OwnerIndex` / `ParticipantIndex` (member + `id`)
for one-to-one meetings, and `JoinedIndex` (`joinedBy` + `startTime`) for the seats players
hold in group sessions.

A seat is an item of this table (`id` = `seat#<session id>#<username>`, see
availabilities.seat_id) with no `owner` or `participant`: it is in neither member index, so
version 1's reads never see it, and is how "the sessions I joined" is a Query, not a Scan.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import ClientError

from database import feed_version, sequence
from database.availabilities import day_release, seat_id, stored
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
from database.models import CANCELED, SCHEDULED, Availability, Meeting, Payment, Refund
from database.paging import Part, query_parts, starting_from
from database.times import now


def member_parts(username: str, since: str | None = None) -> list[Part]:
    """A member's meetings, side after side: those they own, then those they booked."""
    return [
        _member_part("owned", "OwnerIndex", "owner", username, since),
        _member_part("booked", "ParticipantIndex", "participant", username, since),
    ]


def joined_part(username: str, since: str) -> Part:
    """The group sessions a player joined and still holds a seat in, starting at `since` or
    later (JoinedIndex: one seat item per member)."""
    joined = {
        "TableName": MEETINGS_TABLE,
        "IndexName": "JoinedIndex",
        "KeyConditionExpression": "joinedBy = :member AND #start >= :since",
        "FilterExpression": "#status = :scheduled",  # not the seats the player gave up
        "ExpressionAttributeNames": {"#start": "startTime", "#status": "status"},
        "ExpressionAttributeValues": to_item(
            {":member": username, ":since": since, ":scheduled": SCHEDULED}
        ),
    }
    key = frozenset({"joinedBy", "startTime", "id"})
    return Part("joined", joined, key, starts_at=("startTime", since))


def _member_part(name: str, index: str, member: str, username: str, since: str | None) -> Part:
    request = {
        "TableName": MEETINGS_TABLE,
        "IndexName": index,
        "KeyConditionExpression": "#member = :member",
        "ExpressionAttributeNames": {"#member": member},
        "ExpressionAttributeValues": to_item({":member": username}),
    }
    return Part(name, starting_from(request, since), frozenset({member, "id"}))


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
    payment: Payment | None = None  # a priced meeting's Stripe side
    day_guard: str | None = None  # the coach's day it counts on (a daily limit was set)
    sequence: int = 0  # its calendar feeds' SEQUENCE, as read (database/sequence.py)


def _booking(item: dict) -> Booking:
    values = from_item(item)
    snapshot = values.get("availability")
    return Booking(
        Meeting.from_item(values),
        snapshot and Availability.from_item(snapshot),
        Payment.from_item(values),
        values.get("dayGuard"),
        int(values.get(sequence.SEQUENCE, 0)),
    )


def booking_of(item: dict | None) -> Booking | None:
    """The one-to-one meeting in a meetings-table item, as a Booking (None: none, or a seat)."""
    return _booking(item) if item and _meeting(item) else None


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
    meeting_item = found.get((MEETINGS_TABLE, meeting_id))
    booking = _booking(meeting_item) if meeting_item and _meeting(meeting_item) else None
    seat = _seat(found.get((MEETINGS_TABLE, seat_id(meeting_id, caller))), caller)
    session = found.get((AVAILABILITIES_TABLE, caller, meeting_id))
    if seat is not None:
        owner = seat["sessionOwner"]
        session = batch_get({AVAILABILITIES_TABLE: [{"owner": owner, "id": meeting_id}]}).get(
            (AVAILABILITIES_TABLE, owner, meeting_id)
        )
    return CancelTargets(
        booking=booking,
        has_seat=seat is not None,
        session=Availability.from_item(from_item(session)) if session else None,
    )


def _seat(item: dict | None, username: str) -> dict | None:
    """`username`'s seat in a meetings-table item; None for none, or for an item of another
    kind under a seat's key (ids were once chosen by clients: `seat#<session>#<username>`
    could be a meeting's)."""
    seat = item and from_item(item)
    return seat if seat and seat.get("joinedBy") == username and "sessionOwner" in seat else None


def get_sessions(keys: list[tuple[str, str]]) -> list[Availability]:
    """The group sessions (owner, id) in `keys`, in that order (those gone are left out)."""
    return [Availability.from_item(item) for item in get_sessions_items(keys)]


def get_sessions_items(keys: list[tuple[str, str]]) -> list[dict]:
    """get_sessions' items as stored (with what only the store keeps: their `sequence`)."""
    if not keys:
        return []
    found = batch_get({AVAILABILITIES_TABLE: [{"owner": o, "id": i} for o, i in keys]})
    items = (found.get((AVAILABILITIES_TABLE, o, i)) for o, i in keys)
    return [from_item(item) for item in items if item]


@translate_errors
def cancel(
    booking: Booking,
    by: str,
    *,
    reopen: bool,
    also: Sequence[dict] = (),
    refund: dict | None = None,
) -> Meeting:
    """Cancels a one-to-one meeting `by` one of its members; with `reopen`, the availability it
    was booked from is open again, exactly as published, in the same transaction. Canceling
    again changes nothing and answers the canceled meeting. A priced meeting's ledger writes
    (`also`, database.payments) are in the same transaction, and the meeting shows `refund`."""
    meeting = booking.meeting
    try:
        feed_version.transact(
            cancel_writes(booking, by, reopen=reopen, refund=refund)
            + list(also)
            + feed_version.raises((meeting.owner, meeting.participant), now())
        )
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
    meeting.checkoutUrl = None  # nothing to pay any more
    meeting.refund = Refund(**refund) if refund else None
    return meeting


def cancel_writes(
    booking: Booking,
    by: str,
    *,
    reopen: bool,
    refund: dict | None = None,
    rescheduled_to: str | None = None,
) -> list[dict]:
    """The transaction items canceling the meeting as `booking` read it (and reopening its
    slot): its Update, then the availability's Put, then its day's release. A reschedule
    names the meeting it became (`rescheduled_to`)."""
    meeting = booking.meeting
    condition, values = _still(booking)
    sets: dict[str, object] = {":refund": refund} if refund else {}
    if rescheduled_to is not None:
        sets[":to"] = rescheduled_to
    update = {
        "TableName": MEETINGS_TABLE,
        "Key": to_item({"id": meeting.id}),
        "UpdateExpression": "SET #status = :canceled, canceledBy = :by"
        + (", refund = :refund" if refund else "")
        + (", rescheduledTo = :to" if rescheduled_to is not None else ""),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#status": "status", "#sequence": sequence.SEQUENCE},
        "ExpressionAttributeValues": to_item({**values, ":canceled": CANCELED, ":by": by, **sets}),
    }
    writes = [{"Update": sequence.raised(update)}]  # calendar feeds show the cancel
    if reopen and booking.availability is not None:
        reopened = {
            **stored(booking.availability),
            "reopened": True,  # counted as no new availability (counters/changes.py)
            # its next meeting, under the same id (UID), starts above this one's
            sequence.SEQUENCE: sequence.reopened(booking.sequence),
        }
        writes.append(
            {
                "Put": {
                    "TableName": AVAILABILITIES_TABLE,
                    "Item": to_item(reopened),
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
        )
    if booking.day_guard is not None:
        writes.append(day_release(booking.day_guard, meeting))  # its place on the day is free
    return writes


def _still(booking: Booking) -> tuple[str, dict]:
    """A condition that the meeting is still as `booking` read it, and still on."""
    meeting, payment = booking.meeting, booking.payment
    values: dict[str, object] = {":participant": meeting.participant, ":status": meeting.status}
    # the sequence too: the slot it reopens carries it (database/sequence.py)
    values[":sequence"] = booking.sequence
    condition = "participant = :participant AND "
    condition += (
        "(attribute_not_exists(#sequence) OR #sequence = :sequence) AND "
        if booking.sequence == 0
        else "#sequence = :sequence AND "
    )
    if meeting.status == SCHEDULED and payment is None:
        return condition + "(attribute_not_exists(#status) OR #status = :status)", values
    # A priced meeting: its Checkout Session too, so the slot's next booking is not touched.
    values[":session"] = payment.checkout_session if payment else ""
    return condition + "#status = :status AND checkoutSessionId = :session", values


@translate_errors
def get_booking(meeting_id: str) -> Booking | None:
    """The meeting as it is now (a strongly consistent read): the payments' steps decide on
    it, and a hold written a moment ago must not read as no hold."""
    item = dynamodb().get_item(
        TableName=MEETINGS_TABLE, Key=to_item({"id": meeting_id}), ConsistentRead=True
    )
    return _booking(item["Item"]) if _meeting(item.get("Item")) is not None else None
