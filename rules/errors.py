"""The domain's refusals, in its own terms: a value that breaks a rule, an item that is missing
or in the way. Nothing here knows HTTP or the store: database/errors.py adds the store's own
faults, and `api.errors` is the one place that maps each kind to a status.
"""


class DataError(Exception):
    """A public `message` (safe for a client) and a private `detail` (for the log only)."""

    def __init__(self, message: str = "", *, detail: str | None = None):
        self.message = message
        self.detail = detail
        super().__init__(detail or message)


class Invalid(DataError, ValueError):
    """A client value that breaks a rule; the message names the field."""


class NotFound(DataError):
    """The item the request names does not exist (or no longer does)."""


class Conflict(DataError):
    """The item exists but its state forbids the change (booked, full, has participants...)."""
