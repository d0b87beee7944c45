"""GET /availability: the caller's own availabilities, or with `byTime` a search of others'."""

from api.errors import BadRequest
from api.http import Request, http_handler, page
from database import availabilities
from database.times import parse_time
from database.users import require_user


def get_availabilities(request: Request) -> dict:
    caller = request.caller
    limit = request.limit()
    start_key = request.query("startKey")
    if request.query("byTime") is None:
        items, last_key = availabilities.list_owned(caller, limit, start_key)
        return page("availabilities", items, last_key)

    start = _time(request, "startTime", required=True)
    end = _time(request, "endTime", required=False)
    if end is not None and end < start:
        raise BadRequest("endTime must not be before startTime")
    cohort = require_user(caller).dojoCohort
    items, last_key = availabilities.search(caller, cohort, start, end, limit, start_key)
    return page("availabilities", items, last_key)


def _time(request: Request, name: str, *, required: bool):
    raw = request.query(name)
    if raw is None:
        if required:
            raise BadRequest(f"{name} is required when searching by time")
        return None
    try:
        return parse_time(raw)
    except ValueError as error:
        raise BadRequest(f"{name}: {error}") from error


handler = http_handler(get_availabilities)
