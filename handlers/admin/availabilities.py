"""GET /admin/availability: every availability and group session, paged (admins only)."""

from api.admin import admin_handler
from api.http import PAGING, Operation, Request, page
from database.admin import all_availabilities
from database.models import AvailabilityPage


def list_availabilities(request: Request) -> dict:
    return page("availabilities", *all_availabilities(request.limit(), request.query("startKey")))


handler = admin_handler(
    list_availabilities,
    Operation(
        "GET /admin/availability",
        "Every availability and group session (admins only)",
        response=AvailabilityPage,
        query=PAGING,
    ),
)
