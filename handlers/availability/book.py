"""PUT /availability/book: the caller books another player's availability, making a meeting,
or joins their group session."""

from api.errors import BadRequest, Forbidden, NotFound
from api.http import Operation, Request, http_handler
from database import availabilities
from database.models import (
    Availability,
    BookingRequest,
    Meeting,
    MeetingOrSession,
    Participant,
    User,
)
from database.times import now
from membership import settings as membership
from rules.booking import check_join, check_notice, check_start, coach_limit
from rules.cohorts import check_admitted


def book(request: Request) -> dict:
    caller = request.caller
    booking = request.body(BookingRequest.from_json)
    if booking.owner == caller:
        raise BadRequest("You cannot book your own availability")

    # The reads in one round trip: none depends on another (the coach's profile says in which
    # zone their daily limit counts).
    availability, player, coach = availabilities.get_with_player(booking.owner, booking.id, caller)
    if availability is None:
        raise NotFound(availabilities.BOOKED_OR_MISSING)
    # The player was read with the availability: a free player's limit costs no extra call.
    if player is not None and not membership.may_book(player, availability):
        raise Forbidden(membership.MEMBERS_ONLY)
    if availability.is_group:
        return _join(availability, booking, _known(player))
    if booking.startTime is None or booking.type is None:
        raise BadRequest("startTime and type are required to book a one-to-one availability")
    at = now()
    check_start(availability, booking.startTime, booking.type, at)
    check_admitted(availability.cohorts, _known(player).dojoCohort)
    check_notice(availability, booking.startTime, at)

    meeting = Meeting(
        owner=availability.owner,
        participant=caller,
        id=availability.id,
        startTime=booking.startTime,
        type=booking.type,
        location=availability.location,
        description=availability.description,
    )
    if availability.price is not None:
        # Only a priced booking loads Stripe and its keys: a free one imports nothing new.
        from payments import checkout

        return checkout.hold(availability, meeting, coach_limit(coach, meeting.startTime))
    availabilities.book(availability, meeting, day=coach_limit(coach, meeting.startTime))
    return meeting.to_json()


def _known(player: User | None) -> User:
    if player is None:
        raise NotFound("User not found")
    return player


def _join(session: Availability, booking: BookingRequest, player: User) -> dict:
    check_join(session, booking.startTime, booking.type, player.dojoCohort, now())
    seat = Participant(player.username, player.discordUsername, player.dojoCohort)
    return availabilities.join(session, seat).to_json()


handler = http_handler(
    book,
    Operation(
        "PUT /availability/book",
        "Book a one-to-one availability as a meeting (answers the Meeting), or join a group "
        "session (answers the session, Availability)",
        request=BookingRequest,
        response=MeetingOrSession,
    ),
)
