"""The one HTTP error type: a status, a public message for the client, a private detail
for the log.

Handlers raise these; the data layer below raises its own `database.errors`, which `as_api_error`
maps here. `api.http` is the one place that turns them, and any unexpected exception, into a
response.
"""

from database import errors


class ApiError(Exception):
    status = 500
    default_message = "Temporary server error"

    def __init__(self, message: str | None = None, *, detail: str | None = None):
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(detail or self.message)


class BadRequest(ApiError):
    status = 400
    default_message = "Invalid request"


class Unauthorized(ApiError):
    status = 401
    default_message = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    default_message = "Forbidden"


class NotFound(ApiError):
    status = 404
    default_message = "Not found"


class Conflict(ApiError):
    status = 409
    default_message = "Conflict"


class ServiceUnavailable(ApiError):
    """A fault worth retrying (throttling, timeouts): the client sees only the generic message."""

    status = 503


class InternalError(ApiError):
    status = 500


# Each kind of data-layer error and the status it answers with.
_STATUS_OF = {
    errors.Invalid: BadRequest,
    errors.NotFound: NotFound,
    errors.Conflict: Conflict,
    errors.Unavailable: ServiceUnavailable,
    errors.StoreFault: InternalError,
}


def as_api_error(error: errors.DataError) -> ApiError:
    kind = next((api for data, api in _STATUS_OF.items() if isinstance(error, data)), InternalError)
    return kind(error.message or None, detail=error.detail)
