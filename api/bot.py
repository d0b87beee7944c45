"""The club's Discord bot as a caller: `Authorization: Basic <botAccessToken>` (the original's
scheme: the token itself, not base64 of user:password), compared in constant time with the
stage's token, so the answer's timing says nothing about how much of a guess was right.
Used by the routes only the bot calls (POST /tournaments, POST /tournaments/leaderboard).
"""

import hmac

from api.errors import NotFound, Unauthorized
from api.http import Request
from tournaments import secret, settings


def require_bot(request: Request) -> None:
    """Returns when the request carries the bot's token; 401 otherwise (before the body is read)."""
    if not settings.secret_name():
        raise NotFound(settings.TOURNAMENTS_OFF)
    given = (request.header("authorization") or "").encode()
    expected = f"Basic {secret.bot_access_token()}".encode()
    if not hmac.compare_digest(given, expected):
        raise Unauthorized("Authorization header is invalid", detail="not the bot's token")
