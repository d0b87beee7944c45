"""GET /meeting: the meetings the caller owns or booked, paged."""

from api.http import PAGING, Operation, Request, http_handler, page
from database.meetings import list_for_member
from database.models import MeetingPage


def list_meetings(request: Request) -> dict:
    caller = request.caller
    meetings, last_key = list_for_member(caller, request.limit(), request.query("startKey"))
    return page("meetings", meetings, last_key)


handler = http_handler(
    list_meetings,
    Operation("GET /meeting", "The caller's meetings", response=MeetingPage, query=PAGING),
)
