"""GET /admin/meeting: every one-to-one meeting, paged (admins only)."""

from api.admin import admin_handler
from api.http import Request, page
from database.admin import all_meetings


def list_meetings(request: Request) -> dict:
    return page("meetings", *all_meetings(request.limit(), request.query("startKey")))


handler = admin_handler(list_meetings)
