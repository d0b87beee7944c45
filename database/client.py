"""The DynamoDB client, table names, item (de)serialisation and error translation.

The client is created once per container. Retries are botocore's standard mode (which backs
off on throttling) and the timeouts are well below the function's timeout, so a slow call fails
as a 503 instead of the whole invocation timing out. `AWS_ENDPOINT_URL` (honoured by boto3
itself) points the client at a local emulator.
"""

import functools
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from api.errors import ApiError, InternalError, ServiceUnavailable

CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=3,
    tcp_keepalive=True,
)

_stage = os.environ.get("stage", "dev")  # noqa: SIM112 (the original's name for it)
USERS_TABLE = os.environ.get("USERS_TABLE") or f"{_stage}-users"
AVAILABILITIES_TABLE = os.environ.get("AVAILABILITIES_TABLE") or f"{_stage}-availabilities"
MEETINGS_TABLE = os.environ.get("MEETINGS_TABLE") or f"{_stage}-meetings"

# Errors DynamoDB asks us to back off from; after botocore's retries they become a 503.
_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "InternalServerError",
    "ServiceUnavailable",
}

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@functools.cache
def dynamodb():
    """The container's one DynamoDB client (tests attach a botocore Stubber to it)."""
    return boto3.client("dynamodb", config=CONFIG)


def to_item(values: dict[str, Any]) -> dict[str, dict]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def from_item(item: dict[str, dict]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


P = ParamSpec("P")
R = TypeVar("R")


def translate_errors(operation: Callable[P, R]) -> Callable[P, R]:
    """Turns botocore failures that the operation did not handle itself into ApiErrors."""

    @functools.wraps(operation)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return operation(*args, **kwargs)
        except ApiError:
            raise
        except ClientError as error:
            code = error_code(error)
            detail = f"DynamoDB {code} in {operation.__name__}: {error}"
            if code in _THROTTLED:
                raise ServiceUnavailable(detail=detail) from error
            raise InternalError(detail=detail) from error
        except BotoCoreError as error:  # timeouts, connection failures
            raise ServiceUnavailable(detail=f"{operation.__name__}: {error}") from error

    return wrapper
