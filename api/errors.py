"""The one error type: an HTTP status, a public message for the client, a private detail
for the log.

Every layer raises these (the database layer translates botocore errors into them at its edge);
`api.http` is the one place that turns them, and any unexpected exception, into a response.
"""


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
