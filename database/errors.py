"""What the data layer reports, in its own terms: a value that breaks a rule, an item that is
missing or in the way, a store that is down. Nothing here knows HTTP: `api.http` is the layer
above, and the one place that maps each kind to a status.
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


class Unavailable(DataError):
    """The store is throttling or timing out: worth retrying later."""


class StoreFault(DataError):
    """The store answered with something this code does not expect."""
