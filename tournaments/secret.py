"""The bot's token and the bot's MongoDB connection string: one Secrets Manager secret per stage,
JSON `{"botAccessToken": "...", "mongoConnectionString": "mongodb+srv://..."}` (tournament.yml's
two values), read at run time with Powertools Parameters and cached for a few minutes, so a
rotated token is picked up without a deploy. Only the tournament functions may read it.
"""

from aws_lambda_powertools.utilities.parameters import get_secret
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)

from database.errors import StoreFault, Unavailable
from tournaments import settings

SECRET_MAX_AGE = 300  # seconds a container keeps the values before reading them again


def _value(name: str) -> str:
    try:
        values = get_secret(settings.secret_name(), transform="json", max_age=SECRET_MAX_AGE)
    except (GetParameterError, TransformParameterError) as error:
        raise Unavailable(detail=f"tournament secret not readable: {error}") from error
    value = values.get(name) if isinstance(values, dict) else None
    if not isinstance(value, str) or not value:
        raise StoreFault(detail=f"the tournament secret holds no {name}")
    return value


def bot_access_token() -> str:
    return _value("botAccessToken")


def mongo_connection_string() -> str:
    return _value("mongoConnectionString")
