"""GET /meeting: the meetings the caller owns or booked, paged."""

from api.http import Request, http_handler
from database.meetings import list_for_member
from database.models import MeetingPage


def list_meetings(request: Request) -> MeetingPage:
    caller = request.caller
    meetings, last_key = list_for_member(caller, request.limit(), request.query("startKey"))
    return MeetingPage(meetings=meetings, lastEvaluatedKey=last_key)


handler = http_handler(list_meetings)
