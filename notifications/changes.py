"""Which Discord messages a table change causes: pure functions of the stream record's images.

No I/O here. The notify function reads a change's old and new item (NEW_AND_OLD_IMAGES) and
gets back a list of actions; it then looks recipients up, honours their settings, guards each
side effect with an idempotency claim and talks to Discord. Every action has a `key`, unique
among the actions of one change: with the stream record's eventID it names the side effect
(`change#<eventID>#<key>`), the same on every redelivery of that record.

Stored shapes (contract version 2): one-to-one availabilities are deleted when booked and put
back when the participant cancels; group sessions (maxParticipants >= 2) stay, with a
`participants` map and a `status` (SCHEDULED open, BOOKED full, CANCELED by the owner).
Meetings are one-to-one (`owner`, `participant`, `status`, `canceledBy`); group seat items
(`seat#...`, no owner/participant) carry nothing to tell: the availability's change does.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

SCHEDULED, BOOKED, CANCELED = "SCHEDULED", "BOOKED", "CANCELED"

Item = dict[str, Any]
Setting = Literal["booking", "cancellation"]
# A player's name in a message, from their stored profile (username -> display name): never a
# name a request body chose. Without one, players are named by their usernames.
Namer = Callable[[str], str]


@dataclass(frozen=True)
class DirectMessage:
    """A message to one player, unless their `setting` notifications are disabled."""

    key: str
    recipient: str  # username
    setting: Setting
    text: str


@dataclass(frozen=True)
class Announce:
    """Post a new open availability in the announcements channel."""

    key: str
    owner: str
    availability_id: str
    text: str
    expires: int  # epoch seconds: the announcement record's TTL (the availability's)


@dataclass(frozen=True)
class EditAnnouncement:
    """An announced availability was replaced (PUT /availability): show what it is now."""

    key: str
    owner: str
    availability_id: str
    text: str


@dataclass(frozen=True)
class Unannounce:
    """The availability is no longer open (booked, full, cancelled, deleted): delete its post."""

    key: str
    owner: str
    availability_id: str


Action = DirectMessage | Announce | EditAnnouncement | Unannounce


def availability_changes(
    old: Item | None, new: Item | None, frontend: str, name: Namer | None = None
) -> list[Action]:
    """The actions of an INSERT (old None), MODIFY or REMOVE (new None) of an availability."""
    name = name or _username
    if new is None:  # deleted, booked one-to-one, or expired (TTL)
        return [_unannounce(old)] if old else []
    was_open = old is not None and _status(old) == SCHEDULED
    is_open = _status(new) == SCHEDULED
    actions: list[Action] = []

    if is_open and not was_open:  # new, reopened (participant cancelled), or a seat freed
        actions.append(
            Announce(
                key="announce",
                owner=new["owner"],
                availability_id=new["id"],
                text=announcement(new, frontend, name),
                expires=int(new.get("expirationTime", 0)),
            )
        )
    elif was_open and not is_open:  # full or cancelled
        actions.append(_unannounce(new))
    elif (
        was_open and old and announcement(old, frontend, name) != announcement(new, frontend, name)
    ):
        actions.append(
            EditAnnouncement(
                key="edit",
                owner=new["owner"],
                availability_id=new["id"],
                text=announcement(new, frontend, name),
            )
        )

    if old is None:
        return actions
    before, after = _participants(old), _participants(new)
    when = discord_time(new["startTime"])
    link = f"{frontend}/calendar"
    for username in sorted(after.keys() - before.keys()):
        joiner = _display(after[username])
        seats = f"{len(after)}/{_max_participants(new)}"
        actions.append(
            DirectMessage(
                key=f"join:{username}",
                recipient=new["owner"],
                setting="booking",
                text=f"{joiner} joined your group session on {when} ({seats} seats taken).\n{link}",
            )
        )
    if _status(new) == CANCELED and _status(old) != CANCELED:
        owner = plain(name(new["owner"]))
        for username in sorted(after):
            actions.append(
                DirectMessage(
                    key=f"canceled:{username}",
                    recipient=username,
                    setting="cancellation",
                    text=f"{owner} canceled the group session on {when} that you joined.\n{link}",
                )
            )
    elif _status(new) != CANCELED:
        for username in sorted(before.keys() - after.keys()):
            leaver = _display(before[username])
            actions.append(
                DirectMessage(
                    key=f"left:{username}",
                    recipient=new["owner"],
                    setting="cancellation",
                    text=f"{leaver} left your group session on {when}.\n{link}",
                )
            )
    return actions


def meeting_changes(old: Item | None, new: Item | None, frontend: str) -> list[Action]:
    """The actions of a change of a one-to-one meeting (seat items and removals: none)."""
    if new is None or not _is_meeting(new):
        return []
    link = f"{frontend}/meeting/{quote(new['id'], safe='')}"
    when = discord_time(new["startTime"])
    booked_now = _status(new) == SCHEDULED and (
        old is None
        or not _is_meeting(old)
        or _status(old) != SCHEDULED
        or old["participant"] != new["participant"]
    )
    if booked_now and new.get("rescheduledFrom"):  # a move: one message, naming both times
        kind = _label(new.get("type", ""))
        before = discord_time(new.get("rescheduledFromTime") or new["startTime"])
        return [
            DirectMessage(
                key="rescheduled",
                recipient=new["owner"],
                setting="booking",
                text=f"{plain(new['participant'])} rescheduled your {kind.lower()} "
                f"from {before} to {when}.\n{link}",
            )
        ]
    if booked_now:  # a booking, or a re-booking of a reopened slot
        kind = _label(new.get("type", ""))
        return [
            DirectMessage(
                key="booked",
                recipient=new["owner"],
                setting="booking",
                text=f"{plain(new['participant'])} booked your availability: {kind} on {when}."
                f"\n{link}",
            )
        ]
    if _status(new) == CANCELED and old is not None and _status(old) == SCHEDULED:
        if new.get("rescheduledTo"):
            return []  # moved, not canceled: the new meeting's message tells the owner
        canceled_by = new.get("canceledBy", "")
        members = (new["owner"], new["participant"])
        if canceled_by not in members:
            return []  # nobody to spare: a cancel always names who cancelled
        other = members[1] if canceled_by == members[0] else members[0]
        return [
            DirectMessage(
                key="canceled",
                recipient=other,
                setting="cancellation",
                text=f"{plain(canceled_by)} canceled your meeting on {when}.\n{link}",
            )
        ]
    return []


def announcement(availability: Item, frontend: str, name: Namer | None = None) -> str:
    """The channel post of an open availability: who (named from their stored profile), when,
    what, for whom, where to book. What the owner wrote (location, description) is quoted and
    shown as typed, never as Discord markdown: it cannot pass for the bot's own lines."""
    who = plain((name or _username)(availability["owner"]))
    cohort = availability.get("ownerCohort")
    start, end = availability["startTime"], availability["endTime"]
    what = ", ".join(_label(kind) for kind in availability.get("types", []))
    cohorts = ", ".join(
        "all cohorts" if cohort == "ALL_COHORTS" else cohort
        for cohort in availability.get("cohorts", [])
    )
    seats = _max_participants(availability)
    kind = f"Group session ({seats} seats)" if seats > 1 else "New availability"
    lines = [
        f"**{kind}** by {who}" + (f" ({cohort})" if cohort else ""),
        f"When: {discord_time(start)} to {discord_time(end)}",
        f"What: {what}",
        f"Cohorts: {cohorts}",
    ]
    if availability.get("location"):
        lines.append(f"Where: {plain(availability['location'])}")
    lines.append(f"Book it: {frontend}/calendar")
    if availability.get("description"):
        lines.extend(f"> {line}" for line in plain(availability["description"]).splitlines())
    return "\n".join(lines)


# Links stay links (Discord makes a URL clickable, and reads no markdown inside one); elsewhere
# every character Discord's markdown gives a meaning (bold, headings, quotes, lists, spoilers,
# masked links `[text](url)`, mentions and timestamps `<...>`, emoji `:name:`) is escaped.
_URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")  # Discord's own autolink rule
_MARKDOWN = re.compile(r"([\\*_~`|>#\-\[\]()<@:!.+=])")


def plain(text: str) -> str:
    """User text shown exactly as typed in a Discord message, never as markdown."""
    shown, last = [], 0
    for url in _URL.finditer(text):
        shown += [_MARKDOWN.sub(r"\\\1", text[last : url.start()]), url.group()]
        last = url.end()
    shown.append(_MARKDOWN.sub(r"\\\1", text[last:]))
    return "".join(shown)


def discord_time(stored: str) -> str:
    """A stored UTC time as Discord's timestamp markup: each reader sees it in their own time
    zone (a DM's reader is its recipient: the owner sees their own)."""
    epoch = int(datetime.fromisoformat(stored.replace("Z", "+00:00")).timestamp())
    return f"<t:{epoch}:f>"


def _unannounce(availability: Item) -> Unannounce:
    return Unannounce(
        key="unannounce", owner=availability["owner"], availability_id=availability["id"]
    )


def _status(item: Item) -> str:
    return item.get("status") or SCHEDULED  # absent on version-1 items


def _participants(availability: Item) -> dict[str, Item]:
    return availability.get("participants") or {}


def _max_participants(availability: Item) -> int:
    return int(availability.get("maxParticipants", 1))


def _is_meeting(item: Item) -> bool:
    return "owner" in item and "participant" in item  # not a group seat item


def _display(participant: Item) -> str:
    return plain(participant.get("discord") or participant["username"])


def _username(username: str) -> str:
    return username


def _label(kind: str) -> str:
    """CLASSICAL_GAME -> Classical game."""
    return kind.replace("_", " ").capitalize()
