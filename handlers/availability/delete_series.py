"""DELETE /availability/series/{seriesId}: the owner ends a repeating availability and deletes
its open occurrences (booked ones and group sessions with participants stay)."""

from api.http import Operation, Request, http_handler
from database import series
from database.models import SeriesDeleted
from database.times import now


def delete_series(request: Request) -> dict:
    caller = request.caller
    return {"deleted": series.delete(caller, request.id("seriesId"), now())}


handler = http_handler(
    delete_series,
    Operation(
        "DELETE /availability/series/{seriesId}",
        "End one of the caller's repeating availabilities and delete its open occurrences (booked "
        "ones and group sessions with participants stay)",
        response=SeriesDeleted,
    ),
)
