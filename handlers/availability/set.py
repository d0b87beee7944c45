"""PUT /availability: creates or replaces one of the caller's availabilities, or creates a
repeating one (a `recurrence` on a create: contract v4, database.series)."""

from api.errors import Forbidden
from api.http import Operation, Request, http_handler
from database.availabilities import put_availability
from database.models import Availability
from database.times import now
from database.users import require_user
from payments import settings as payments


def set_availability(request: Request) -> dict:
    caller = request.caller
    availability = request.body(Availability.from_json)
    if availability.owner != caller:
        raise Forbidden("owner must be the caller")
    if availability.price is not None:
        payments.require_enabled()  # the owner's account is checked in the write itself
    if availability.recurrence is not None and not availability.id:
        # Only a series loads the recurrence rules (dateutil) and reads the owner's zone.
        from database import series

        zone = availability.recurrence.timezone or require_user(caller).timezone
        return series.create(availability, zone, now()).to_json()
    return put_availability(availability).to_json()


handler = http_handler(
    set_availability,
    Operation(
        "PUT /availability",
        "Create or replace an availability",
        request=Availability,
        response=Availability,
    ),
)
