"""POST /tournaments/leaderboard (the club's Discord bot): this month's standings of one site,
tournament type and time control; the yearly standings gain each player's change."""

from api.bot import require_bot
from api.http import Operation, Request, http_handler
from database.tournaments import StandingsUpdate, update_standings


def update_leaderboard(request: Request) -> dict:
    require_bot(request)
    update = request.body(StandingsUpdate.from_json)
    update_standings(update.site, update.type, update.timeControl, update.standings())
    return {}


handler = http_handler(
    update_leaderboard,
    Operation(
        "POST /tournaments/leaderboard",
        "The club's Discord bot (Authorization: Basic <botAccessToken>): this month's standings",
    ),
)
