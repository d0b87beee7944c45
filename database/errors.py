"""What the data layer reports, in its own terms: the domain's refusals (rules/errors.py: a
value that breaks a rule, an item that is missing or in the way), and a store that is down.
Nothing here knows HTTP: `api.http` is the layer above, and the one place that maps each kind
to a status.
"""

from rules.errors import Conflict, DataError, Invalid, NotFound

__all__ = ["Conflict", "DataError", "Invalid", "NotFound", "StoreFault", "Unavailable"]


class Unavailable(DataError):
    """The store is throttling or timing out: worth retrying later."""


class StoreFault(DataError):
    """The store answered with something this code does not expect."""
