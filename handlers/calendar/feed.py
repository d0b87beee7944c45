"""GET /public/calendar-feed/{file}: a player's meetings and group sessions as an iCalendar
feed, for calendar apps, which send no JWT: the secret token in `file` (`<token>.ics`) is the
only credential. Anything that does not open a feed is the same 404, whatever the reason.

Apps poll (Google every few hours): the answer carries an ETag computed from what the events
are made of, before any is written, so a poll that finds nothing changed is answered 304."""

import hashlib
import json

from api.errors import NotFound
from api.http import Operation, Request, Response, http_handler
from api.log import logger
from database import feed
from database.times import now
from feeds import ics

CACHE_CONTROL = "private, max-age=900"  # a feed changes seldom; a leaked copy stays private


def _etag(username: str, meetings: list[dict], sessions: list[dict]) -> str:
    text = json.dumps([username, meetings, sessions], sort_keys=True, default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def calendar_feed(request: Request) -> Response:
    file = request.path("file", required=False) or ""
    token = file.removesuffix(".ics") if file.endswith(".ics") else ""
    owner = feed.owner_of(token)
    if owner is None:
        raise NotFound("Not found", detail="no feed for this token")  # never the token itself
    logger.append_keys(caller=owner)
    meetings, sessions = feed.feed_items(owner, now())
    etag = _etag(owner, meetings, sessions)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    matches = [tag.strip() for tag in (request.header("if-none-match") or "").split(",")]
    if etag in matches or "*" in matches:
        return Response(statusCode=304, headers=headers)
    return Response(
        statusCode=200,
        headers={**headers, "Content-Type": "text/calendar; charset=utf-8"},
        body=ics.feed(meetings, sessions, owner, now()).decode(),
    )


handler = http_handler(
    calendar_feed,
    Operation(
        "GET /public/calendar-feed/{file}",
        "A player's calendar feed (text/calendar, RFC 5545) at its secret address "
        "(`<token>.ics`); 404 for any other",
    ),
)
