"""The stage's secrets, one reader for all: one Secrets Manager secret per stage and purpose
(`dojo-scheduler/<stage>/<purpose>`, serverless.yml custom.secrets), named in the function's
environment as <PURPOSE>_SECRET_NAME, a JSON object read at run time through Powertools
Parameters and cached for a few minutes, so a rotated value is picked up without a deploy.
Never in the template or an environment variable. Which fields the object holds, and what a
missing one means, is for the feature that reads it (payments.stripe_client, tournaments.secret,
membership.shop, handlers/stream/notify.py).

A read is bounded (SECRET_SECONDS): botocore's defaults (60 s to connect, 60 s to read, 5
attempts) would let a Secrets Manager that never answers outlast the notify function after it
claimed a message (notifications/deliver.py), which would then never be sent. Bounded, the read
fails in time, the claim is given back and the stream retries the record.

Imported only by the functions that read a secret (Powertools Parameters loads boto3).
"""

import functools
from typing import Any

import botocore.session
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)
from botocore.config import Config

from database.client import parameter_validation

MAX_AGE = 300  # seconds a container keeps a secret before reading it again
# A caller with a tighter budget (createUser, inside Cognito's 5 s) passes its own.
CONFIG = Config(
    connect_timeout=1,
    read_timeout=1,  # GetSecretValue answers in tens of milliseconds
    retries={"mode": "standard", "total_max_attempts": 2},
    parameter_validation=parameter_validation(),  # off in deployed functions only
)
# Each attempt's connect + read, and standard mode's backoff (at most 1 s) between the two.
# (Config sets its options in a loop: botocore declares no attribute for the checker to see.)
SECRET_SECONDS = (
    CONFIG.retries["total_max_attempts"] * (CONFIG.connect_timeout + CONFIG.read_timeout) + 1  # pyright: ignore[reportAttributeAccessIssue]
)


class SecretUnavailable(Exception):
    """The secret cannot be read (missing, not granted, Secrets Manager down or not answering,
    not a JSON object): worth retrying later."""


@functools.cache
def _provider(config: Config) -> SecretsProvider:
    """One client (and cache) per configuration, created once per container: a botocore
    client, as database/client.py makes DynamoDB's (Powertools would make a boto3 session for
    it, a few milliseconds more of every cold start that reads a secret)."""
    client = botocore.session.get_session().create_client("secretsmanager", config=config)
    return SecretsProvider(boto3_client=client)


def stage_secret(name: str, config: Config = CONFIG) -> dict[str, Any]:
    """The stage's JSON secret `name`, as an object."""
    try:
        value: Any = _provider(config).get(name, transform="json", max_age=MAX_AGE)
    except (GetParameterError, TransformParameterError) as error:
        raise SecretUnavailable(f"secret {name} not readable: {error}") from error
    if not isinstance(value, dict):
        raise SecretUnavailable(f"secret {name} is not a JSON object")
    return value


def clear_caches() -> None:
    """Every cached secret and client, as in a new container (tests: a rotated value)."""
    _provider.cache_clear()
