"""PUT /availability: creates or replaces one of the caller's availabilities."""

from api.errors import Forbidden
from api.http import Request, http_handler
from database.availabilities import put_availability
from database.models import Availability
from payments import settings as payments


def set_availability(request: Request) -> dict:
    caller = request.caller
    availability = request.body(Availability.from_json)
    if availability.owner != caller:
        raise Forbidden("owner must be the caller")
    if availability.price is not None:
        payments.require_enabled()  # the owner's account is checked in the write itself
    return put_availability(availability).to_json()


handler = http_handler(set_availability)
