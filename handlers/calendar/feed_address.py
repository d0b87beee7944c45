"""POST /user/calendar-feed (a new secret feed address; the caller's earlier one stops working)
and DELETE /user/calendar-feed (the address stops working)."""

from api.http import Operation, Request, http_handler
from database import feed
from database.models import CalendarFeedAddress

PATH = "/public/calendar-feed/"


def address(request: Request, token: str) -> str:
    """The public address of the feed `token` opens, on the host the request came to (API
    Gateway's domain, or `make run`'s)."""
    scheme = request.header("x-forwarded-proto") or "https"
    return f"{scheme}://{request.context.get('domainName', '')}{PATH}{token}.ics"


def calendar_feed(request: Request) -> dict:
    caller = request.caller
    if request.event.get("requestContext", {}).get("http", {}).get("method") == "DELETE":
        feed.revoke(caller)
        return {}
    return {"url": address(request, feed.rotate(caller))}


handler = http_handler(
    calendar_feed,
    Operation(
        "POST /user/calendar-feed",
        "A new secret address of the caller's calendar feed (iCalendar); the earlier one stops "
        "working",
        response=CalendarFeedAddress,
    ),
    Operation("DELETE /user/calendar-feed", "The caller's calendar feed address stops working"),
)
