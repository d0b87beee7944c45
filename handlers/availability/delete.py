"""DELETE /availability/{id}: deletes one of the caller's availabilities."""

from api.http import Operation, Request, http_handler
from database.availabilities import delete_availability


def delete(request: Request) -> dict:
    caller = request.caller
    delete_availability(caller, request.id())
    return {}


handler = http_handler(
    delete,
    Operation("DELETE /availability/{id}", "Delete one of the caller's availabilities"),
)
