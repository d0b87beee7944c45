"""The iCalendar text of a calendar feed (RFC 5545), written by the `icalendar` package: it
escapes text (`,` `;` `\\` newlines), folds lines at 75 octets without splitting a character
and ends them with CRLF, so what players wrote reads back exactly in any conforming parser.
Shipped only with the feed's function (its code, and icalendar as the layer it alone lists)."""

from datetime import datetime, timedelta

from icalendar import Calendar, Event

from database.models import AWAITING_PAYMENT, CANCELED
from database.times import parse_time

PRODID = "-//ChessDojo//dojo-scheduler//EN"
UID_DOMAIN = "dojo-scheduler"
# A version 1-3 meeting kept no end: its slot's, from the availability it was booked from,
# else this long after its start.
DEFAULT_LENGTH = timedelta(hours=1)


def _status(status: str) -> str:
    if status == CANCELED:
        return "CANCELLED"  # RFC 5545's spelling
    if status == AWAITING_PAYMENT:
        return "TENTATIVE"
    return "CONFIRMED"  # SCHEDULED, and a full group session (BOOKED)


def _meeting_end(item: dict, start: datetime) -> datetime:
    end = item.get("endTime") or (item.get("availability") or {}).get("endTime")
    return parse_time(end) if end else start + DEFAULT_LENGTH


def _text(value: str) -> str:
    """`value` as an iCalendar TEXT can hold it: a line break is its one `\\n` (RFC 5545
    3.3.11), and a control character other than a tab has no place in it at all (3.1), so
    CRLF and a lone CR are line breaks and the other controls are dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\n\t" or not (ord(c) < 32 or ord(c) == 127))


def _event(item: dict, summary: str, end: datetime, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", f"{item['id']}@{UID_DOMAIN}")
    event.add("sequence", int(item.get("sequence", 0)))
    event.add("dtstamp", stamp)
    event.add("dtstart", parse_time(item["startTime"]))
    event.add("dtend", end)
    event.add("summary", _text(summary))
    event.add("location", _text(item.get("location", "")))
    event.add("description", _text(item.get("description", "")))
    event.add("status", _status(item.get("status", "SCHEDULED")))
    return event


def meeting_event(item: dict, viewer: str, stamp: datetime) -> Event:
    start = parse_time(item["startTime"])
    other = item["participant"] if viewer == item["owner"] else item["owner"]
    summary = f"{item['type']} with {other}"
    return _event(item, summary, _meeting_end(item, start), stamp)


def session_event(item: dict, stamp: datetime) -> Event:
    summary = f"Group session ({', '.join(item.get('types', []))}) by {item['owner']}"
    return _event(item, summary, parse_time(item["endTime"]), stamp)


def feed(meetings: list[dict], sessions: list[dict], viewer: str, stamp: datetime) -> bytes:
    """The VCALENDAR of `viewer`'s feed: one VEVENT per meeting and session, in start order."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("calscale", "GREGORIAN")
    events = [meeting_event(item, viewer, stamp) for item in meetings]
    events += [session_event(item, stamp) for item in sessions]
    for event in sorted(events, key=lambda e: (e.decoded("dtstart"), str(e["uid"]))):
        calendar.add_component(event)
    return calendar.to_ical()
