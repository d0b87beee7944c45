"""GET /availability: the caller's own availabilities, or with `byTime` a search of others'."""

from api.errors import BadRequest
from api.http import PAGING, TIME, Operation, Query, Request, http_handler, page
from database import availabilities
from database.models import AvailabilityPage
from database.users import require_user


def get_availabilities(request: Request) -> dict:
    caller = request.caller
    limit = request.limit()
    start_key = request.query("startKey")
    # Checked even when not searching: a malformed time is a 400, never silently ignored.
    start = request.time("startTime")
    end = request.time("endTime")
    if request.query("byTime") is None:
        items, last_key = availabilities.list_owned(caller, limit, start_key)
        return page("availabilities", items, last_key)

    if start is None:
        raise BadRequest("startTime is required when searching by time")
    if end is not None and end < start:
        raise BadRequest("endTime must not be before startTime")
    cohort = require_user(caller).dojoCohort
    items, last_key = availabilities.search(caller, cohort, start, end, limit, start_key)
    return page("availabilities", items, last_key)


handler = http_handler(
    get_availabilities,
    Operation(
        "GET /availability",
        "The caller's availabilities, or with byTime a search of others' that admit the caller's "
        "cohort",
        response=AvailabilityPage,
        query=(
            Query(
                "byTime",
                "Any value: search others' availabilities by start time.",
                {"type": "string"},
            ),
            Query("startTime", "Required with byTime.", TIME),
            Query("endTime", "Not before startTime.", TIME),
            *PAGING,
        ),
    ),
)
