"""PUT /availability/book: the caller books another player's availability, making a meeting."""

from api.errors import BadRequest, NotFound
from api.http import Request, http_handler
from database import availabilities
from database.models import BookingRequest, Meeting
from database.users import require_user


def book(request: Request) -> dict:
    caller = request.caller
    booking = request.body(BookingRequest.from_json)
    if booking.owner == caller:
        raise BadRequest("You cannot book your own availability")

    availability = availabilities.get_availability(booking.owner, booking.id)
    if availability is None:
        raise NotFound(availabilities.BOOKED_OR_MISSING)
    if not availability.startTime <= booking.startTime <= availability.endTime:
        raise BadRequest("startTime must be within the availability's window")
    if booking.type not in availability.types:
        raise BadRequest("type is not offered by this availability")
    if not availability.admits(require_user(caller).dojoCohort):
        raise BadRequest("Your cohort is not accepted by this availability")

    meeting = Meeting(
        owner=availability.owner,
        participant=caller,
        id=availability.id,
        startTime=booking.startTime,
        type=booking.type,
    )
    availabilities.book(availability, meeting)
    return meeting.to_json()


handler = http_handler(book)
