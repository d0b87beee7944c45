"""POST /tournaments (the club's Discord bot): `{"url"}` of a Lichess or Chess.com arena or
Swiss, read from the site's API and stored as a club tournament; the same URL again answers the
tournament stored the first time."""

from api.bot import require_bot
from api.errors import BadRequest
from api.http import Operation, Request, http_handler
from database import tournaments
from tournaments import sites


def create(request: Request) -> dict:
    require_bot(request)
    url = request.body(lambda data: data.get("url"))
    if not isinstance(url, str):
        raise BadRequest("url is required")
    stored, _ = tournaments.add_tournament(sites.read(url))
    return stored


handler = http_handler(
    create,
    Operation(
        "POST /tournaments",
        "The club's Discord bot (Authorization: Basic <botAccessToken>): store the Lichess or "
        "Chess.com tournament at {url}",
    ),
)
