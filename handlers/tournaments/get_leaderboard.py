"""GET /public/tournaments/leaderboard?site&timePeriod&tournamentType&timeControl&date (no
sign-in): the standings current for the month or year holding `date`, or that period's
snapshot when it is over; 404 when there is none."""

from api.errors import BadRequest, NotFound
from api.http import TIME, Operation, Query, Request, http_handler
from database.times import now
from database.tournaments import (
    MONTHLY,
    SITES,
    TIME_CONTROLS,
    TYPES,
    YEARLY,
    Board,
    get_leaderboard,
    starts_at,
)

PERIODS = {"monthly": MONTHLY, "yearly": YEARLY}


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str | None = None):
    """A query parameter that must be one of `choices`, in any case (the original's rule)."""
    value = request.query(name) or default
    if value is None:
        raise BadRequest(f"{name} is required")
    value = value.upper() if choices[0].isupper() else value.lower()
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}")
    return value


def leaderboard(request: Request) -> dict:
    site = _choice(request, "site", SITES, default="lichess")  # the original's default
    period = _choice(request, "timePeriod", tuple(PERIODS))
    kind = _choice(request, "tournamentType", TYPES)
    control = _choice(request, "timeControl", TIME_CONTROLS)
    date = request.time("date")
    if date is None:
        raise BadRequest("date is required")
    period_start = starts_at(PERIODS[period], date, now())
    players = get_leaderboard(Board(site, PERIODS[period], kind, control), period_start)
    if players is None:
        raise NotFound("No leaderboard for that period")
    return {
        "site": site,
        "type": kind,
        "timeControl": control,
        "timePeriod": period,
        "startsAt": period_start,
        "players": [player.to_json() for player in players],
    }


handler = http_handler(
    leaderboard,
    Operation(
        "GET /public/tournaments/leaderboard",
        "A leaderboard: current, or a past month's or year's snapshot",
        query=(
            Query("site", "lichess (default) or chesscom.", {"type": "string"}),
            Query("timePeriod", "monthly or yearly.", {"type": "string"}),
            Query("tournamentType", "ARENA, SWISS, GRAND_PRIX, ...", {"type": "string"}),
            Query("timeControl", "BLITZ, RAPID or CLASSICAL.", {"type": "string"}),
            Query("date", "A time in the month or year.", TIME),
        ),
    ),
)
