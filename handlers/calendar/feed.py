"""GET /public/calendar-feed/{file}: a player's meetings and group sessions as an iCalendar
feed, for calendar apps, which send no JWT: the secret token in `file` (`<token>.ics`) is the
only credential. Anything that does not open a feed is the same 404, whatever the reason.

Apps poll (Google every few hours): the answer carries an ETag computed from what the events
are made of, before any is written, so a poll that finds nothing changed is answered 304."""

import hashlib
import json
from typing import Any

from api.errors import ApiError, InternalError, NotFound, as_api_error
from api.http import Request, error_response
from api.log import logger
from database import feed
from database.errors import DataError
from database.times import now
from feeds import ics

CACHE_CONTROL = "private, max-age=900"  # a feed changes seldom; a leaked copy stays private


def _etag(username: str, meetings: list[dict], sessions: list[dict]) -> str:
    text = json.dumps([username, meetings, sessions], sort_keys=True, default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _calendar_feed(request: Request) -> dict[str, Any]:
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
        return {"statusCode": 304, "headers": headers}
    return {
        "statusCode": 200,
        "headers": {**headers, "Content-Type": "text/calendar; charset=utf-8"},
        "body": ics.feed(meetings, sessions, owner, now()).decode(),
    }


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request = Request(event)
    logger.append_keys(request_id=request.request_id, route=event.get("routeKey"))
    try:
        return _calendar_feed(request)
    except (ApiError, DataError) as raised:
        error = raised if isinstance(raised, ApiError) else as_api_error(raised)
        (logger.warning if error.status < 500 else logger.error)(
            error.message, status=error.status, detail=error.detail
        )
        return error_response(error)
    except Exception:
        logger.exception("Unhandled error")
        return error_response(InternalError())
    finally:
        logger.remove_keys(["request_id", "route", "caller"])
