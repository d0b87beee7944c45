"""API Gateway HTTP API (payload 2.0) requests and responses.

A handler module is `handler = http_handler(route, Operation(...))` where `route(request)`
returns the JSON body (a dict) to send with status 200, and raises `ApiError` for anything else
(or lets the data layer's `database.errors` through: `api.errors.as_api_error` gives each its
status). Each `Operation` declares, beside the code, what one of its routes takes and answers:
the OpenAPI document (local/openapi.py) is built from these and serverless.yml's routes.
"""

import base64
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from api.errors import (
    ApiError,
    BadRequest,
    InternalError,
    NotFound,
    Unauthorized,
    as_api_error,
)
from api.log import logger
from database.errors import DataError
from database.models import is_id, is_username, read_json
from database.times import parse_time

Parsed = TypeVar("Parsed")

# The original backend sent the CORS header itself; the HTTP API's `cors: true` adds it too.
HEADERS = {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}
SERVER_ERROR_MESSAGE = "Temporary server error"


@dataclass(frozen=True)
class Query:
    """A query parameter a route reads, as its OpenAPI document publishes it."""

    name: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Operation:
    """What one route of a handler takes and answers, declared beside it; local/openapi.py reads
    it from the handler's source (never importing the handler, whose imports read the
    function's settings), so every argument is a literal or a name the module imports."""

    route: str  # serverless.yml's route key: "GET /user"
    summary: str
    request: Any = None  # the body's msgspec Struct (None: no body)
    response: Any = None  # the 200's Struct, or an Annotated union of Structs (models.py)
    query: tuple[Query, ...] = ()
    example: Mapping[str, Any] | None = None  # a request body that works as it is, for anyone


# An RFC 3339 time in a query parameter, as Request.time reads it.
TIME = {"type": "string", "format": "date-time"}
# The paging parameters Request.limit and the data layer's page tokens read.
PAGING = (
    Query(
        "limit",
        "Page size, 1 to 100 (default 100).",
        {"type": "integer", "minimum": 1, "maximum": 100},
    ),
    Query(
        "startKey",
        "The `lastEvaluatedKey` of the previous page, as it came (anything else is a 400).",
        {"type": "string"},
    ),
)


class Request:
    def __init__(self, event: dict[str, Any]):
        self.event = event
        self.context = event.get("requestContext") or {}

    @property
    def request_id(self) -> str | None:
        return self.context.get("requestId")

    def claimed_username(self) -> str | None:
        """The username the JWT authorizer vouches for, or None."""
        claims = ((self.context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
        # ID tokens carry `cognito:username`, access tokens `username`.
        username = claims.get("cognito:username") or claims.get("username")
        return username if isinstance(username, str) and username.strip() else None

    @property
    def caller(self) -> str:
        """The signed-in caller; fails closed with 401 when the claims do not name one."""
        username = self.claimed_username()
        if username is None:
            raise Unauthorized(detail="no username claim in the request context")
        return username

    def path(self, name: str, *, required: bool = True) -> str | None:
        value = (self.event.get("pathParameters") or {}).get(name)
        if not value and required:
            raise BadRequest(f"{name} is required in the path")
        return value or None

    def id(self, name: str = "id") -> str:
        """An id in the path: one the API issued (a canonical UUID), or nothing of this API's,
        so a 404 before any database call (a long one would be a key DynamoDB refuses)."""
        value = self.path(name) or ""  # never "": path() refuses a missing one
        if not is_id(value):
            raise NotFound(detail=f"{name} {value[:80]!r} is not an id")
        return value

    def username(self, name: str = "username") -> str:
        """A username in the path; one no player can have is a 404 before any database call."""
        value = self.path(name) or ""  # never "": path() refuses a missing one
        if not is_username(value):
            raise NotFound("User not found", detail=f"{name} of {len(value)} characters")
        return value

    def query(self, name: str) -> str | None:
        return (self.event.get("queryStringParameters") or {}).get(name)

    def time(self, name: str) -> datetime | None:
        """An RFC 3339 query parameter as an instant, None when absent; 400 when malformed."""
        raw = self.query(name)
        if raw is None:
            return None
        try:
            return parse_time(raw)
        except ValueError as error:
            raise BadRequest(f"{name}: {error}") from error

    def limit(self, default: int = 100, maximum: int = 100) -> int:
        """The `limit` query parameter: a page size from 1 to `maximum`."""
        raw = self.query("limit")
        if raw is None:
            return default
        # ASCII digits only, as an OpenAPI integer (str.isdigit() takes "²", int() does not).
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
            raise BadRequest(f"limit must be an integer from 1 to {maximum}")
        return int(raw)

    def header(self, name: str) -> str | None:
        """A request header (payload 2.0 gives their names in lower case)."""
        return (self.event.get("headers") or {}).get(name.lower())

    def raw_body(self) -> bytes:
        """The body exactly as sent (what a signature is computed over)."""
        raw = self.event.get("body") or ""
        if self.event.get("isBase64Encoded"):
            try:
                return base64.b64decode(raw)
            except ValueError as error:
                raise BadRequest("Request body is not valid base64") from error
        return raw.encode()

    def body(self, parse: Callable[[dict], Parsed]) -> Parsed:
        """The JSON object in the body, read by `parse`; 400 naming the invalid field otherwise."""
        raw = self.raw_body()
        if not raw:
            raise BadRequest("Request body is required")
        data = read_json(raw, "Request body")  # database.errors.Invalid: a 400
        if not isinstance(data, dict):
            raise BadRequest("Request body must be a JSON object")
        return parse(data)  # a rule it breaks is database.errors.Invalid: a 400


def page(name: str, records: list, last_key: str | None) -> dict:
    """A page of records under `name`, with `lastEvaluatedKey` only while more remain."""
    body: dict[str, Any] = {name: [record.to_json() for record in records]}
    if last_key:
        body["lastEvaluatedKey"] = last_key
    return body


def respond(status: int, body: dict) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(HEADERS), "body": json.dumps(body)}


def error_response(error: ApiError) -> dict[str, Any]:
    # A 5xx never says more than the generic message: details stay in the log.
    message = SERVER_ERROR_MESSAGE if error.status >= 500 else error.message
    return respond(error.status, {"code": error.status, "message": message})


class Response(dict):
    """A complete answer a route makes itself (status, headers, body), passed through as it
    is: one that is not a JSON 200 (the calendar feed's text/calendar, its 304)."""


def http_handler(route: Callable[[Request], dict], *operations: Operation) -> Callable[..., dict]:
    """The Lambda handler answering API Gateway's events with `route`; `operations`: what each
    of the function's routes takes and answers (for the OpenAPI document; kept as
    `handler.operations`)."""

    @functools.wraps(route)
    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        request = Request(event)
        logger.append_keys(
            request_id=request.request_id,
            route=event.get("routeKey"),
            caller=request.claimed_username(),
        )
        try:
            answer = route(request)
            return answer if isinstance(answer, Response) else respond(200, answer)
        except (ApiError, DataError) as raised:
            error = raised if isinstance(raised, ApiError) else as_api_error(raised)
            log = logger.warning if error.status < 500 else logger.error
            log(
                error.message,
                status=error.status,
                detail=error.detail,
                exc_info=error.status >= 500,
            )
            return error_response(error)
        except Exception:
            logger.exception("Unhandled error")
            return error_response(InternalError())
        finally:
            logger.remove_keys(["request_id", "route", "caller"])

    handler.operations = operations  # type: ignore[attr-defined]
    return handler
