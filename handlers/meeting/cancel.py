"""PUT /meeting/cancel/{id}: a member cancels a meeting, leaves a group session, or (its owner)
cancels the whole session. A retried cancel answers what the first one did."""

from api.errors import Forbidden, NotFound
from api.http import Operation, Request, http_handler
from database import availabilities, meetings
from database.models import CANCELED, MeetingOrSession
from database.times import now
from rules.booking import reopens


def cancel(request: Request) -> dict:
    caller = request.caller
    targets = meetings.cancel_targets(request.id(), caller)
    if targets.booking is not None:
        booking = targets.booking
        meeting = booking.meeting
        if caller not in (meeting.owner, meeting.participant):
            raise Forbidden("You are not a member of this meeting")
        # The participant gives the slot back while it can still be played (rules/booking.py).
        window_end = booking.availability.endTime if booking.availability else None
        reopen = reopens(caller, meeting.participant, window_end, now())
        if booking.payment is not None:
            # Only a priced meeting loads Stripe: its cancel may refund or expire a checkout.
            from payments import refunds

            return refunds.cancel(booking, caller, reopen=reopen).to_json()
        if meeting.status == CANCELED:
            return meeting.to_json()
        return meetings.cancel(booking, caller, reopen=reopen).to_json()
    session = targets.session
    if session is not None and targets.has_seat:
        return availabilities.leave(session, caller).to_json()
    if session is not None and session.owner == caller and session.is_group:
        return availabilities.cancel_session(session).to_json()
    raise NotFound("Meeting not found")


handler = http_handler(
    cancel,
    Operation(
        "PUT /meeting/cancel/{id}",
        "Cancel a meeting, leave a group session, or (its owner) cancel the session",
        response=MeetingOrSession,
    ),
)
