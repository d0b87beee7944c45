"""PUT /meeting/reschedule/{id}: the participant of a scheduled one-to-one meeting moves it to
another open one-to-one availability of the same owner, in one transaction (contract v4,
"Rescheduling"; docs/rescheduling.md). Answers the new meeting."""

from api.errors import Conflict, Forbidden, NotFound
from api.http import Operation, Request, http_handler
from database import rescheduling
from database.models import SCHEDULED, Meeting, RescheduleRequest
from database.times import now
from membership import settings as membership
from rules.booking import check_notice, check_start, coach_limit, reopens
from rules.cohorts import check_admitted
from rules.refunds import in_refund_window

NOT_SCHEDULED = "Only a scheduled meeting can be rescheduled"
OWNER_CANCELS = "Only the meeting's participant can reschedule it (its owner cancels instead)"
NOT_A_SLOT = "That availability is taken, does not exist, or is not the same owner's one-to-one"
OTHER_PRICE = "A paid meeting can only move to an availability of the same price"
TOO_LATE = "A paid meeting can only be rescheduled while its cancel would still be refunded"


def reschedule(request: Request) -> dict:
    caller = request.caller
    meeting_id = request.id()
    move = request.body(RescheduleRequest.from_json)
    targets = rescheduling.read(meeting_id, caller, move.id, move.owner)
    booking = targets.booking
    if booking is None:
        raise NotFound("Meeting not found")
    meeting = booking.meeting
    if caller != meeting.participant:
        raise Forbidden(OWNER_CANCELS)
    if meeting.status != SCHEDULED:
        raise Conflict(NOT_SCHEDULED)
    slot = targets.slot
    # The body's owner, when sent, must be the meeting's: another owner's slot is a 409 too.
    if (
        slot is None
        or slot.is_group
        or slot.id == meeting.id
        or move.owner not in (None, meeting.owner)
    ):
        raise Conflict(NOT_A_SLOT)

    # The slot is booked as a booking would book it (handlers/availability/book.py).
    player = targets.player
    if player is None:
        raise NotFound("User not found")
    if not membership.may_book(player, slot):
        raise Forbidden(membership.MEMBERS_ONLY)
    start = move.startTime
    kind = move.type or meeting.type
    at = now()
    check_start(slot, start, kind, at)
    check_admitted(slot.cohorts, player.dojoCohort)
    check_notice(slot, start, at)
    if slot.price != meeting.price:
        raise Conflict(OTHER_PRICE)
    if booking.payment is not None:
        # Only a paid meeting loads the payment settings (and never Stripe: nothing is charged
        # or refunded, the payment moves with the meeting).
        from payments import settings as payment_settings

        if not in_refund_window(meeting.startTime, now(), payment_settings.refund_window()):
            raise Conflict(TOO_LATE)

    moved = Meeting(
        owner=meeting.owner,
        participant=caller,
        id=slot.id,
        startTime=start,
        type=kind,
        location=slot.location,
        description=slot.description,
        price=meeting.price,
        rescheduledFrom=meeting.id,
    )
    # The old slot reopens as the participant's cancel reopens it: while its window lasts.
    window_end = booking.availability.endTime if booking.availability else None
    reopen = reopens(caller, meeting.participant, window_end, now())
    day = coach_limit(targets.coach, moved.startTime)
    rescheduling.reschedule(booking, slot, moved, reopen=reopen, day=day)
    return moved.to_json()


handler = http_handler(
    reschedule,
    Operation(
        "PUT /meeting/reschedule/{id}",
        "The participant moves a scheduled one-to-one meeting to another open slot of the same "
        "owner, in one step (answers the new Meeting)",
        request=RescheduleRequest,
        response=Meeting,
    ),
)
