"""The stage's secrets: one Secrets Manager secret per stage and purpose, named in the
function's environment (`dojo-scheduler/<stage>/<purpose>`, serverless.yml custom.secrets),
a JSON object read at run time through Powertools Parameters and cached for a few minutes, so
a rotated value is picked up without a deploy. Never in the template or an environment variable.

Imported only by the functions that read a secret (Powertools Parameters loads boto3).
"""

from typing import Any

from aws_lambda_powertools.utilities.parameters import get_secret
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)

MAX_AGE = 300  # seconds a container keeps a secret before reading it again


class SecretUnavailable(Exception):
    """The secret cannot be read (missing, not granted, Secrets Manager down, not JSON):
    worth retrying later."""


def stage_secret(name: str, key: str) -> str:
    """`key` of the stage's JSON secret `name`."""
    try:
        value: Any = get_secret(name, transform="json", max_age=MAX_AGE)
    except (GetParameterError, TransformParameterError) as error:
        raise SecretUnavailable(f"secret {name} not readable: {error}") from error
    if not isinstance(value, dict) or not value.get(key):
        raise SecretUnavailable(f"secret {name} holds no {key}")
    return str(value[key])
