"""Rescheduling a one-to-one meeting (contract v4, "Rescheduling"; docs/rescheduling.md): one
transaction that books the new slot exactly as a booking does (database/availabilities.py's
`book_writes`), cancels the old meeting exactly as its participant's cancel does
(database/meetings.py's `cancel_writes`, reopening the slot), and, for a paid meeting, points
the session's ledger record at the new meeting. What the checks were made against is what
every write is conditional on, so a lost race changes nothing.
"""

from dataclasses import dataclass, replace

from database.availabilities import DAY, book_writes, commit, members_feeds
from database.client import (
    AVAILABILITIES_TABLE,
    MEETINGS_TABLE,
    USERS_TABLE,
    batch_get,
    dynamodb,
    from_item,
    to_item,
    translate_errors,
)
from database.errors import Conflict, DataError
from database.meetings import Booking, booking_of, cancel_writes
from database.models import Availability, Meeting, OwnUser, Payment
from database.sequence import Sequenced
from database.times import expiration, format_time, now
from rules.booking import DAY_FULL, DailyLimit
from rules.zones import shifted

MEETING_CHANGED = "This meeting changed while you rescheduled it: please try again"
SLOT_TAKEN = "That availability is taken or does not exist"
PAYMENT_CHANGED = "This meeting's payment changed while you rescheduled it: please try again"


@dataclass
class Targets:
    """What a reschedule reads, in one BatchGetItem when the body names the owner."""

    booking: Booking | None  # the meeting to move
    slot: Availability | None  # the open availability to move it to (None: not found)
    coach: OwnUser | None  # the meeting's owner (their zone and daily limit)
    player: OwnUser | None  # the caller


@translate_errors
def read(meeting_id: str, caller: str, slot_id: str, owner: str | None) -> Targets:
    """The meeting, the target slot, the owner's and the caller's profiles. The slot's key is
    (owner, id): with the body's `owner` all four are one round trip; without it (or with a
    wrong one) the slot and the owner are read once the meeting has named its owner."""
    keys: dict[str, list[dict]] = {
        MEETINGS_TABLE: [{"id": meeting_id}],
        USERS_TABLE: [{"username": caller}],
    }
    if owner is not None:
        keys[AVAILABILITIES_TABLE] = [{"owner": owner, "id": slot_id}]
        if owner != caller:
            keys[USERS_TABLE].append({"username": owner})
    found = batch_get(keys)
    booking = booking_of(found.get((MEETINGS_TABLE, meeting_id)))
    player = found.get((USERS_TABLE, caller))
    targets = Targets(booking, None, None, _user(player))
    if booking is None:
        return targets
    real_owner = booking.meeting.owner
    if owner != real_owner:
        found = batch_get(
            {
                AVAILABILITIES_TABLE: [{"owner": real_owner, "id": slot_id}],
                USERS_TABLE: [{"username": real_owner}],
            }
        )
    slot = found.get((AVAILABILITIES_TABLE, real_owner, slot_id))
    targets.slot = Sequenced.from_item(from_item(slot)) if slot else None
    targets.coach = _user(found.get((USERS_TABLE, real_owner)))
    return targets


def _user(item: dict | None) -> OwnUser | None:
    return OwnUser.from_item(from_item(item)) if item else None


@translate_errors
def reschedule(
    booking: Booking,
    slot: Availability,
    moved: Meeting,
    *,
    reopen: bool,
    day: DailyLimit | None,
) -> Meeting:
    """Moves `booking`'s meeting to `moved` (booked from `slot`) in one transaction. A lost
    race of any kind (the slot booked, the meeting canceled or moved, the day full, the
    payment settled otherwise) changes nothing and is a 409."""
    old = booking.meeting
    payment = booking.payment
    fields = {"rescheduledFromTime": format_time(old.startTime)}  # the owner's DM names it
    same_day = day is not None and booking.day_guard == day.key
    # One day's set is one item, and a transaction writes an item once: a move within the day
    # swaps the ids in one write (below) instead of a release and an add.
    writes: list[tuple[dict, DataError | None]] = [
        *book_writes(slot, moved, payment, day=None if same_day else day, fields=fields)
    ]
    # The slot gone is a 409 here (the contract's "target is taken"), not the booking's 404.
    writes[0] = (writes[0][0], Conflict(SLOT_TAKEN))
    if same_day:
        writes[1][0]["Put"]["Item"]["dayGuard"] = {"S": booking.day_guard}
    leaving = replace(booking, day_guard=None) if same_day else booking
    writes += [
        (write, Conflict(MEETING_CHANGED))
        for write in cancel_writes(leaving, old.participant, reopen=reopen, rescheduled_to=moved.id)
    ]
    if payment is not None:
        writes.append((_ledger_move(payment, old, moved), Conflict(PAYMENT_CHANGED)))
    writes += members_feeds(moved)  # the same two members: each feed's version raised once
    if not same_day:
        commit(writes)
        return moved
    assert day is not None
    # The day's set as read is the swap's condition: a booking or cancel of that day committed
    # in between fails it, and the move reads the day again (the rest of it still holds).
    for _ in range(DAY_ATTEMPTS):
        try:
            commit([*writes, (_day_swap(day, old, moved), _DayChanged())])
        except _DayChanged:
            continue
        return moved
    raise Conflict(DAY_CHANGED)


DAY_ATTEMPTS = 3
DAY_CHANGED = "The coach's day changed while you rescheduled: please try again"


class _DayChanged(Conflict):
    """The day's set was not what the swap read (not a refusal: read it again)."""


def _day_swap(day: DailyLimit, old: Meeting, moved: Meeting) -> dict:
    """The coach's day, with the moved meeting counted in place of the old one. Its set is read
    (strongly consistent: the one extra round trip, only for a move within a day that has a
    limit) and written back whole, conditional on being exactly what was read: a booking or
    cancel of that day meanwhile fails the transaction, which `reschedule` then tries again."""
    item = (
        dynamodb()
        .get_item(TableName=MEETINGS_TABLE, Key=to_item({"id": day.key}), ConsistentRead=True)
        .get("Item")
    )
    counted = set((item or {}).get("meetingIds", {}).get("SS", []))
    after = (counted - {old.id}) | {moved.id}
    if len(after) > day.limit:  # the old one was not counted (a limit set since it was booked)
        raise Conflict(DAY_FULL)
    values: dict = {":after": {"SS": sorted(after)}}
    values[":expires"] = {"N": str(expiration(shifted(moved.startTime, DAY)))}
    if counted:
        values[":size"] = {"N": str(len(counted))}
        names = {f":m{n}": {"S": meeting_id} for n, meeting_id in enumerate(sorted(counted))}
        values.update(names)
        condition = "size(meetingIds) = :size AND " + " AND ".join(
            f"contains(meetingIds, {name})" for name in names
        )
    else:
        condition = "attribute_not_exists(meetingIds)"
    return {
        "Update": {
            "TableName": MEETINGS_TABLE,
            "Key": to_item({"id": day.key}),
            "UpdateExpression": "SET meetingIds = :after, expirationTime = :expires",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
    }


def _ledger_move(payment: Payment, old: Meeting, moved: Meeting) -> dict:
    """The paid session's ledger record names the new meeting and its start (a later cancel's
    refund and the record's retention follow it), while it is still CONFIRMED for the old one:
    a refund decided or a payment settled otherwise meanwhile fails the move. Stripe's events
    for the session find a settled record and change nothing (database/payments.py)."""
    from database import payments  # a free meeting's move never loads the ledger's settings

    kept_until = max(moved.startTime, now()) + payments.RETENTION
    return {
        "Update": {
            "TableName": payments.payments_table(),
            "Key": to_item({"id": payment.checkout_session}),
            "UpdateExpression": "SET meetingId = :new, startTime = :start, "
            "expirationTime = :expires",
            "ConditionExpression": "#status = :confirmed AND meetingId = :old",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(
                {
                    ":new": moved.id,
                    ":start": format_time(moved.startTime),
                    ":expires": int(kept_until.timestamp()),
                    ":confirmed": payments.CONFIRMED,
                    ":old": old.id,
                }
            ),
        }
    }
