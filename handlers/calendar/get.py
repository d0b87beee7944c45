"""GET /calendar: everything on the caller's calendar from `startTime` on, paged."""

from datetime import timedelta

from api.http import PAGING, TIME, Operation, Query, Request, http_handler
from database import parallel
from database.calendar import calendar
from database.models import CalendarPage
from database.times import now
from database.tournaments import tournaments_from

# Without a `startTime`: from yesterday, so what is happening now is still on the page.
LOOK_BACK = timedelta(hours=24)


def get_calendar(request: Request) -> dict:
    caller = request.caller
    start = request.time("startTime") or now() - LOOK_BACK
    start_key = request.query("startKey")
    # The club's tournaments (none where they are off) come with the first page only, each
    # once, read at the same time as the player's own parts.
    (published, meetings, last_key), club = parallel.together(
        lambda: calendar(caller, start, request.limit(), start_key),
        lambda: [] if start_key else tournaments_from(start),
    )
    body = {
        "availabilities": [availability.to_json() for availability in published],
        "meetings": [meeting.to_json() for meeting in meetings],
        "tournaments": club,
    }
    if last_key:
        body["lastEvaluatedKey"] = last_key
    return body


handler = http_handler(
    get_calendar,
    Operation(
        "GET /calendar",
        "The caller's availabilities, meetings and joined group sessions, and the others' "
        "availabilities the caller can book, from startTime on",
        response=CalendarPage,
        query=(
            Query("startTime", "Default: 24 hours ago.", TIME),
            *PAGING,
        ),
    ),
)
