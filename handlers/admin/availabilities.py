"""GET /admin/availability: every availability and group session, paged (admins only)."""

from api.admin import admin_handler
from api.http import Request, page
from database.admin import all_availabilities


def list_availabilities(request: Request) -> dict:
    return page("availabilities", *all_availabilities(request.limit(), request.query("startKey")))


handler = admin_handler(list_availabilities)
