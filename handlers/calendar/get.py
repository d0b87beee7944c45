"""GET /calendar: everything on the caller's calendar from `startTime` on, paged."""

from datetime import timedelta

from api.http import Request, http_handler
from database.calendar import calendar
from database.times import now

# Without a `startTime`: from yesterday, so what is happening now is still on the page.
LOOK_BACK = timedelta(hours=24)


def get_calendar(request: Request) -> dict:
    caller = request.caller
    start = request.time("startTime") or now() - LOOK_BACK
    published, meetings, last_key = calendar(
        caller, start, request.limit(), request.query("startKey")
    )
    body = {
        "availabilities": [availability.to_json() for availability in published],
        "meetings": [meeting.to_json() for meeting in meetings],
    }
    if last_key:
        body["lastEvaluatedKey"] = last_key
    return body


handler = http_handler(get_calendar)
