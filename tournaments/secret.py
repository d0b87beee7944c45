"""The bot's token and the bot's MongoDB connection string: the stage's tournament secret
(TOURNAMENT_SECRET_NAME, read by api/secrets.py), JSON `{"botAccessToken": "...",
"mongoConnectionString": "mongodb+srv://..."}` (tournament.yml's two values). Only the tournament
functions that use them may read it.
"""

from api.secrets import SecretUnavailable, stage_secret
from database.errors import StoreFault, Unavailable
from tournaments import settings


def _value(name: str) -> str:
    try:
        values = stage_secret(settings.secret_name())
    except SecretUnavailable as error:
        raise Unavailable(detail=str(error)) from error
    value = values.get(name)
    if not isinstance(value, str) or not value:
        raise StoreFault(detail=f"the tournament secret holds no {name}")
    return value


def bot_access_token() -> str:
    return _value("botAccessToken")


def mongo_connection_string() -> str:
    return _value("mongoConnectionString")
