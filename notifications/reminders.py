"""Reminders (contract v4): which a table change calls for, and what one says. Pure functions of
stored items: no I/O, so every rule here is unit-tested in milliseconds.

A reminder is owed to each member of a SCHEDULED one-to-one meeting, and to the owner and each
participant of a group session with at least one participant, once per value of the member's
`reminderMinutes`, due that many minutes before the start. planReminders turns a change of the
meetings or availabilities table into the `Places` it opens (a member newly in a meeting or a
session, or one whose start moved); database/reminders.py stores one reminder per place and
value, keyed by (meeting, start, member, minutes), so a redelivered change writes nothing twice.
sendReminders re-checks each against the meeting as it is when due (`still_owed`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from database.times import format_time, parse_stored
from rules.zones import local, zone

SCHEDULED, BOOKED, CANCELED = "SCHEDULED", "BOOKED", "CANCELED"
MEETING, SESSION = "meeting", "session"

Item = dict[str, Any]


@dataclass(frozen=True)
class Place:
    """A member's place in a meeting (kind MEETING, keyed by `meeting_id`) or a group session
    (kind SESSION: the availability `owner` + `meeting_id`) starting at `start` (stored form)."""

    kind: str
    meeting_id: str
    owner: str
    member: str
    start: str


def meeting_places(old: Item | None, new: Item | None) -> list[Place]:
    """The places a change of the meetings table opens: both members of a one-to-one meeting
    that became SCHEDULED (a booking, a paid checkout, a re-booking of its slot, the target of
    a reschedule), or whose start changed. Seat items and removals open none."""
    if new is None or not _is_meeting(new) or _status(new) != SCHEDULED:
        return []
    if (
        old is not None
        and _is_meeting(old)
        and _status(old) == SCHEDULED
        and old["participant"] == new["participant"]
        and old["startTime"] == new["startTime"]
    ):
        return []
    return [
        Place(MEETING, new["id"], new["owner"], member, new["startTime"])
        for member in (new["owner"], new["participant"])
    ]


def session_places(old: Item | None, new: Item | None) -> list[Place]:
    """The places a change of the availabilities table opens: each participant who joined a
    group session, and its owner when it gets its first participant (or any, on a start that
    moved). A canceled session opens none."""
    if new is None or int(new.get("maxParticipants", 1)) < 2 or _status(new) == CANCELED:
        return []
    after = set(new.get("participants") or {})
    if not after:
        return []
    moved = old is not None and old.get("startTime") != new["startTime"]
    before = set() if old is None or moved else set(old.get("participants") or {})
    members = sorted(after - before)
    if not before and members:
        members.insert(0, new["owner"])
    return [Place(SESSION, new["id"], new["owner"], member, new["startTime"]) for member in members]


def due_times(place: Place, minutes: list[int], since: datetime) -> list[tuple[int, datetime]]:
    """(minutes, due time) of each reminder of `place` for those `minutes`, leaving out any
    due at or before `since` (the booking, or the seat taken): never one already late."""
    start = parse_stored(place.start)
    due = [(int(m), start - timedelta(minutes=int(m))) for m in sorted(set(minutes))]
    return [(m, at) for m, at in due if at > since]


def still_owed(reminder: Item, current: Item | None) -> str | None:
    """Why the reminder is no longer owed, given its meeting (or session) as it is now; None
    when it still is: SCHEDULED (a session: not canceled), the member still in it, the same
    start."""
    if current is None:
        return "gone"
    if reminder["startTime"] != current.get("startTime"):
        return "moved"
    if reminder["kind"] == MEETING:
        if _status(current) != SCHEDULED:
            return "moved" if current.get("rescheduledTo") else "canceled"
        if reminder["member"] not in (current.get("owner"), current.get("participant")):
            return "left"
        return None
    if _status(current) == CANCELED:
        return "canceled"
    participants = current.get("participants") or {}
    if not participants:
        return "left"  # the owner of a session everyone left
    if reminder["member"] != current["owner"] and reminder["member"] not in participants:
        return "left"
    return None


def local_start(start: str, zone_name: str) -> str:
    """The start as the member reads it: `Tue 8 Dec 2026, 19:00 (Europe/Berlin)`."""
    where = zone(zone_name) if zone_name else zone("UTC")
    wall = local(parse_stored(start), where) or parse_stored(start)
    return (
        f"{wall.strftime('%a')} {wall.day} {wall.strftime('%b')} {wall.year}, "
        f"{wall.strftime('%H:%M')} ({zone_name or 'UTC'})"
    )


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


def reminder_text(
    reminder: Item, current: Item, zone_name: str, name: Any, shown: Any = None
) -> Text:
    """What the reminder says to its member: the type, the other player (or the session), the
    start in the member's own zone, the location. `name(username)` names a player as their
    stored profile does; `shown(text)` shows what players wrote (names, the location) as typed
    (Discord: notifications.changes.plain, never markdown)."""
    shown = shown or (lambda text: text)
    member = reminder["member"]
    when = local_start(reminder["startTime"], zone_name)
    if reminder["kind"] == MEETING:
        other = current["participant"] if member == current["owner"] else current["owner"]
        what = f"{label(current.get('type', ''))} with {shown(name(other))}"
    else:
        types = ", ".join(label(kind) for kind in current.get("types", []))
        owner = "your" if member == current["owner"] else f"{shown(name(current['owner']))}'s"
        what = f"{owner} group session ({types})"
    location = current.get("location") or (current.get("availability") or {}).get("location")
    lines = [f"Reminder: {what}", f"Starts {when}"]
    lines.append(f"Where: {shown(location)}" if location else "Where: not given")
    return Text(subject=f"Reminder: {what}, {when}", body="\n".join(lines))


def label(kind: str) -> str:
    """CLASSICAL_GAME -> Classical game."""
    return kind.replace("_", " ").capitalize()


def reminder_id(place: Place, minutes: int) -> str:
    return f"{place.meeting_id}#{place.start}#{place.member}#{minutes}"


def reminder_item(place: Place, minutes: int, due: datetime, expires: int) -> Item:
    return {
        "id": reminder_id(place, minutes),
        "kind": place.kind,
        "meetingId": place.meeting_id,
        "owner": place.owner,
        "member": place.member,
        "minutes": minutes,
        "startTime": place.start,
        "dueAt": format_time(due),
        "expirationTime": expires,
    }


def _status(item: Item) -> str:
    return item.get("status") or SCHEDULED


def _is_meeting(item: Item) -> bool:
    return "owner" in item and "participant" in item
