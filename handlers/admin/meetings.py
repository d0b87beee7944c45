"""GET /admin/meeting: every one-to-one meeting, paged (admins only)."""

from api.admin import admin_handler
from api.http import PAGING, Operation, Request, page
from database.admin import all_meetings
from database.models import MeetingPage


def list_meetings(request: Request) -> dict:
    return page("meetings", *all_meetings(request.limit(), request.query("startKey")))


handler = admin_handler(
    list_meetings,
    Operation(
        "GET /admin/meeting",
        "Every one-to-one meeting (admins only)",
        response=MeetingPage,
        query=PAGING,
    ),
)
