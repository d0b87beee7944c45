"""GET /public/tournaments?startTime= (no sign-in): the club's tournaments from `startTime`
(default: now) on, by start."""

from api.http import TIME, Operation, Query, Request, http_handler
from database.times import now
from database.tournaments import tournaments_from


def list_tournaments(request: Request) -> dict:
    return {"tournaments": tournaments_from(request.time("startTime") or now())}


handler = http_handler(
    list_tournaments,
    Operation(
        "GET /public/tournaments",
        "The club's tournaments from startTime on",
        query=(Query("startTime", "Default: now.", TIME),),
    ),
)
