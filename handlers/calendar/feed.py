"""GET /public/calendar-feed/{file}: a player's meetings and group sessions as an iCalendar
feed, for calendar apps, which send no JWT: the secret token in `file` (`<token>.ics`) is the
only credential. Anything that does not open a feed is the same 404, whatever the reason.

Apps poll (Google every few hours): the ETag is made from the player's feed version, which
every change the feed shows raises in the change's own transaction (database/feed_version.py),
so a poll that finds nothing changed is answered 304 after the one GetItem that opened the feed.
"""

from api.errors import NotFound
from api.http import Operation, Request, Response, http_handler
from api.log import logger
from database import feed
from database.times import now
from feeds import etag

CACHE_CONTROL = "private, max-age=900"  # a feed changes seldom; a leaked copy stays private
# Just after a change: read again next time (no validator, no freshness): database.feed.SETTLE.
UNSETTLED = "private, no-cache"


def calendar_feed(request: Request) -> Response:
    file = request.path("file", required=False) or ""
    token = file.removesuffix(".ics") if file.endswith(".ics") else ""
    opened = feed.open_feed(token)
    if opened is None:
        raise NotFound("Not found", detail="no feed for this token")  # never the token itself
    logger.append_keys(caller=opened.owner)
    at = now()
    headers = {"Cache-Control": UNSETTLED}
    if opened.settled(at):
        tag = etag(opened.owner, opened.version, at.date().isoformat())
        headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
        matches = [given.strip() for given in (request.header("if-none-match") or "").split(",")]
        if tag in matches or "*" in matches:
            return Response(statusCode=304, headers=headers)
    # The iCalendar writer (the icalendar package, ~100 ms to import) only when one is
    # written: a poll that finds nothing changed never loads it.
    from feeds import ics

    # Read after the version: events newer than it only make the next poll read them again.
    meetings, sessions = feed.feed_items(opened.owner, at)
    return Response(
        statusCode=200,
        headers={**headers, "Content-Type": "text/calendar; charset=utf-8"},
        body=ics.feed(meetings, sessions, opened.owner, at).decode(),
    )


handler = http_handler(
    calendar_feed,
    Operation(
        "GET /public/calendar-feed/{file}",
        "A player's calendar feed (text/calendar, RFC 5545) at its secret address "
        "(`<token>.ics`); 404 for any other",
    ),
)
