"""PUT /availability/book: the caller books another player's availability, making a meeting,
or joins their group session."""

from api.errors import BadRequest, Conflict, Forbidden, NotFound
from api.http import Request, http_handler
from database import availabilities
from database.models import Availability, BookingRequest, Meeting, OwnUser, Participant, User
from database.times import now
from membership import settings as membership
from rules.booking import IN_THE_PAST, STARTED, daily_limit, notice_refusal


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
    if booking.startTime < now():
        raise BadRequest(IN_THE_PAST)
    if not availability.startTime <= booking.startTime <= availability.endTime:
        raise BadRequest("startTime must be within the availability's window")
    if booking.type not in availability.types:
        raise BadRequest("type is not offered by this availability")
    if not availability.admits(_known(player).dojoCohort):
        raise BadRequest("Your cohort is not accepted by this availability")
    _require_notice(availability, booking.startTime)

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

        return checkout.hold(availability, meeting, _day(coach, meeting))
    availabilities.book(availability, meeting, day=_day(coach, meeting))
    return meeting.to_json()


def _require_notice(availability: Availability, start) -> None:
    refusal = notice_refusal(start, now(), availability.minNoticeMinutes)
    if refusal is not None:
        raise Conflict(refusal)


def _day(coach: OwnUser | None, meeting: Meeting):
    """The coach's daily limit this meeting counts against (None: they set none)."""
    if coach is None:
        return None
    return daily_limit(coach.username, meeting.startTime, coach.timezone, coach.maxBookingsPerDay)


def _known(player: User | None) -> User:
    if player is None:
        raise NotFound("User not found")
    return player


def _join(session: Availability, booking: BookingRequest, player: User) -> dict:
    # A group session starts when it starts; a client that names a start or a type anyway
    # must name the session's own.
    if booking.startTime not in (None, session.startTime):
        raise BadRequest("startTime must be the session's startTime")
    if booking.type is not None and booking.type not in session.types:
        raise BadRequest("type is not offered by this session")
    if not session.admits(player.dojoCohort):
        raise BadRequest("Your cohort is not accepted by this session")
    if session.startTime <= now():
        raise Conflict(STARTED)
    _require_notice(session, session.startTime)
    seat = Participant(player.username, player.discordUsername, player.dojoCohort)
    return availabilities.join(session, seat).to_json()


handler = http_handler(book)
