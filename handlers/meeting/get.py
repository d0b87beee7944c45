"""GET /meeting/{id}: one of the caller's meetings, with the other member's public profile."""

from api.errors import Forbidden, NotFound
from api.http import Operation, Request, http_handler
from database.meetings import get_meeting
from database.models import MeetingWithOpponent
from database.users import require_user


def get(request: Request) -> dict:
    caller = request.caller
    meeting = get_meeting(request.id())
    if meeting is None:
        raise NotFound("Meeting not found")
    if caller not in (meeting.owner, meeting.participant):
        raise Forbidden("You are not a member of this meeting")
    opponent = meeting.participant if caller == meeting.owner else meeting.owner
    return {"meeting": meeting.to_json(), "opponent": require_user(opponent).to_json()}


handler = http_handler(
    get,
    Operation(
        "GET /meeting/{id}",
        "One of the caller's meetings, with the opponent's profile",
        response=MeetingWithOpponent,
    ),
)
