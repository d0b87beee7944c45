"""GET /meeting: the meetings the caller owns or booked, paged."""

from api.http import Request, http_handler, page
from database.meetings import list_for_member


def list_meetings(request: Request) -> dict:
    caller = request.caller
    meetings, last_key = list_for_member(caller, request.limit(), request.query("startKey"))
    return page("meetings", meetings, last_key)


handler = http_handler(list_meetings)
