"""The DynamoDB client, table names, item (de)serialisation and error translation.

The client comes from botocore itself, not boto3: boto3 adds nothing a low-level client needs
and costs cold-start time to import. It is created once per container. Retries are botocore's
standard mode (which backs off on throttling) and the timeouts are well below the function's
timeout, so a slow call fails as a 503 instead of the whole invocation timing out.
`AWS_ENDPOINT_URL` (honoured by botocore itself) points the client at a local emulator.
"""

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from database import settings
from database.errors import DataError, StoreFault, Unavailable


def parameter_validation() -> bool:
    """Whether botocore checks each request against the service's model before sending it:
    wherever the code runs under test or `make run`, so a malformed call fails there
    (ParamValidationError) instead of reaching a table; not in a deployed function (Lambda
    sets AWS_EXECUTION_ENV=AWS_Lambda_python3.12), whose requests are the tested ones and
    where the re-validation of every call only costs time."""
    return not settings.current().on_lambda


CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=3,
    tcp_keepalive=True,
    parameter_validation=parameter_validation(),
)

# The three tables every version 1 function uses, imported by name (`from database.client import
# USERS_TABLE`): each is resolved when a module that uses it is imported (module __getattr__),
# so a function needs only its own tables and importing the client alone needs none.
CORE_TABLES = ("USERS_TABLE", "AVAILABILITIES_TABLE", "MEETINGS_TABLE")


def __getattr__(name: str) -> str:
    if name in CORE_TABLES:
        return settings.table(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Throttling and transient DynamoDB faults: still failing after botocore's retries, they are
# a 503 (worth retrying later), not a 500.
_TRY_AGAIN_LATER = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "InternalServerError",
    "ServiceUnavailable",
}


@functools.cache
def _create_client():
    return botocore.session.get_session().create_client("dynamodb", config=CONFIG)


# Calls made at the same time (database.parallel) may each ask for the client on a cold start:
# without the lock each would create one (~50 ms apiece), and the container would keep several.
_creating = threading.Lock()


def dynamodb():
    """The container's one DynamoDB client (tests attach a botocore Stubber to it)."""
    with _creating:
        return _create_client()


# A fresh client (tests: a new moto). A function's own attribute, which a checker does not model.
dynamodb.cache_clear = _create_client.cache_clear  # pyright: ignore[reportFunctionMemberAccess]


@functools.cache
def _create_bounded_client(config: Config):
    return botocore.session.get_session().create_client("dynamodb", config=CONFIG.merge(config))


def bounded_dynamodb(config: Config):
    """A client whose calls are bounded tighter than CONFIG's (`config` over it), for a function
    whose caller waits less: createUser, whose caller (Cognito) waits 5 s. One per `config` and
    container."""
    with _creating:
        return _create_bounded_client(config)


# Items hold strings, booleans, integers (epoch seconds, counts), lists and maps of those.
def to_attribute(value: Any) -> dict:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [to_attribute(element) for element in value]}
    if isinstance(value, dict):
        return {"M": to_item(value)}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_attribute(attribute: dict) -> Any:
    [(kind, value)] = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        return int(value)
    if kind == "BOOL":
        return value
    if kind == "L":
        return [from_attribute(element) for element in value]
    if kind == "M":
        return from_item(value)
    raise TypeError(f"unexpected DynamoDB attribute type {kind}")


def to_item(values: dict[str, Any]) -> dict[str, dict]:
    return {key: to_attribute(value) for key, value in values.items()}


def from_item(item: dict[str, dict]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}


# The key attributes of each table, to match BatchGetItem's answers to the keys asked for.
_KEYS = {
    "USERS_TABLE": ("username",),
    "AVAILABILITIES_TABLE": ("owner", "id"),
    "MEETINGS_TABLE": ("id",),
}
BATCH_READS = 5  # BatchGetItem rounds while DynamoDB leaves keys unprocessed


def query_items(request: dict) -> Iterator[dict[str, dict]]:
    """Every item a Query matches, page after page (the reads that must see them all: the
    scheduled jobs' work lists, a series' occurrences)."""
    request = dict(request)
    while True:
        page = dynamodb().query(**request)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _key_names(table: str) -> tuple[str, ...]:
    return {settings.table(variable): names for variable, names in _KEYS.items()}[table]


def batch_get(keys: dict[str, list[dict]]) -> dict[tuple[str, ...], dict]:
    """Items of several tables in one round trip: `keys` is table -> plain keys; the answer
    is {(table, *key values): item} for the items that exist. Keys DynamoDB leaves
    unprocessed (throttling) are asked again, a few times, then it is a throttling error."""
    unprocessed = {table: {"Keys": [to_item(key) for key in ks]} for table, ks in keys.items()}
    found = {}
    for _ in range(BATCH_READS):
        answer = dynamodb().batch_get_item(RequestItems=unprocessed)
        for table, items in answer["Responses"].items():
            found.update(
                {(table, *(item[name]["S"] for name in _key_names(table))): item for item in items}
            )
        unprocessed = answer.get("UnprocessedKeys")
        if not unprocessed:
            return found
    raise ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "keys left unprocessed"}},
        "BatchGetItem",
    )


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def conditional(write: Callable[..., dict], **request: Any) -> dict | None:
    """The answer of the conditional write `write(**request)` (a client's put_item, update_item
    or delete_item), or None when its condition did not hold: the expected end of a lost race
    or a repeat, which changed nothing. Any other failure is raised."""
    try:
        return write(**request)
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return None
        raise


P = ParamSpec("P")
R = TypeVar("R")


def translate_errors(operation: Callable[P, R]) -> Callable[P, R]:
    """Turns botocore failures that the operation did not handle itself into DataErrors."""

    @functools.wraps(operation)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return operation(*args, **kwargs)
        except DataError:
            raise
        except ClientError as error:
            code = error_code(error)
            detail = f"DynamoDB {code} in {operation.__name__}: {error}"
            if code in _TRY_AGAIN_LATER:
                raise Unavailable(detail=detail) from error
            raise StoreFault(detail=detail) from error
        except BotoCoreError as error:  # timeouts, connection failures
            raise Unavailable(detail=f"{operation.__name__}: {error}") from error

    return wrapper
