"""Repeating availabilities: an RFC 5545 RRULE, validated, and its occurrences in a time zone.

Pure rules (no boto3, no tables), unit-tested in milliseconds (tests/unit/test_recurrence.py).

A series repeats its first occurrence (RFC 5545's DTSTART) at the same local wall-clock time
and for the same length in its zone: 19:00 Europe/Berlin is 18:00Z in winter and 17:00Z in
summer. python-dateutil's `rrule` (installed with botocore, which the runtime ships) steps
through the *naive* wall-clock times; rules.zones.instant_of turns each into an instant (a
time in a spring-forward gap moves forward by the gap, a fall-back time is the first of the
two). The original site stored a fixed UTC offset instead, and its weekly events moved by an
hour at each DST change.

Every expansion is bounded: COUNT at most 260, UNTIL at most 2 years after the first start,
and a rule without either is expanded from an anchor moved forward by whole periods (which
leaves the occurrences after it as they are), so a series years old costs no more than a new
one; nothing is computed past the calendar's last day.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule

from rules.errors import Invalid
from rules.zones import instant_of, local, shifted

MAX_INTERVAL = 4
MAX_COUNT = 260
MAX_UNTIL = timedelta(days=2 * 366)  # "at most 2 years after the first start"
MAX_LENGTH = timedelta(hours=24)  # an occurrence's window
TOO_LONG = "endTime: an occurrence of a series is at most 24 hours long"
# Occurrences starting within this long of a series' creation, or of an extendSeries run,
# exist as availabilities.
HORIZON = timedelta(days=28)

_DAYS = {"MO": rrule.MO, "TU": rrule.TU, "WE": rrule.WE, "TH": rrule.TH, "FR": rrule.FR,
         "SA": rrule.SA, "SU": rrule.SU}  # fmt: skip
_WEEKDAY_NAMES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # date.weekday() order
_INTEGER = re.compile(r"[1-9][0-9]{0,3}")
_UNTIL = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
MAX_RULE = 200  # characters: the longest valid rule is far shorter


@dataclass(frozen=True)
class Rule:
    """A validated rule: DAILY or WEEKLY, every `interval` periods, on `days` (weekly; the
    first start's day when none are named), `count` occurrences or until `until` (UTC)."""

    text: str
    weekly: bool
    interval: int = 1
    days: tuple[str, ...] = ()
    count: int | None = None
    until: datetime | None = None

    @property
    def bounded(self) -> bool:
        return self.count is not None or self.until is not None


def check_length(start: datetime, end: datetime) -> None:
    """An occurrence's window (the first's, which every other copies) is at most MAX_LENGTH;
    Invalid naming endTime otherwise."""
    if end - start > MAX_LENGTH:
        raise Invalid(TOO_LONG)


def parse_rule(text: object, first_start: datetime, where: ZoneInfo) -> Rule:
    """`text` as a Rule for a series whose first occurrence starts at `first_start` in
    `where`; Invalid, naming the part, for anything the contract does not allow."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_RULE:
        raise Invalid("recurrence.rule: must be an RRULE such as FREQ=WEEKLY;BYDAY=TU,TH")
    parts: dict[str, str] = {}
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not value:
            raise Invalid(f"recurrence.rule: {part[:20]!r} is not NAME=VALUE")
        if name not in ("FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL"):
            raise Invalid(f"recurrence.rule: {name[:20]} is not allowed")
        if name in parts:
            raise Invalid(f"recurrence.rule: {name} is given twice")
        parts[name] = value
    if parts.get("FREQ") not in ("DAILY", "WEEKLY"):
        raise Invalid("recurrence.rule: FREQ must be DAILY or WEEKLY")
    weekly = parts["FREQ"] == "WEEKLY"
    interval = _whole(parts.get("INTERVAL", "1"), "INTERVAL", MAX_INTERVAL)
    count = "COUNT" in parts and _whole(parts["COUNT"], "COUNT", MAX_COUNT) or None
    if count is not None and "UNTIL" in parts:
        raise Invalid("recurrence.rule: COUNT and UNTIL cannot both be given")
    wall = local(first_start, where)
    if wall is None:
        raise Invalid("startTime: too close to the calendar's ends for a series")
    days: tuple[str, ...] = ()
    if "BYDAY" in parts:
        if not weekly:
            raise Invalid("recurrence.rule: BYDAY is for FREQ=WEEKLY only")
        listed = parts["BYDAY"].split(",")
        if any(day not in _DAYS for day in listed) or len(set(listed)) < len(listed):
            raise Invalid("recurrence.rule: BYDAY must list days MO,TU,WE,TH,FR,SA,SU, each once")
        days = tuple(sorted(listed, key=_WEEKDAY_NAMES.index))
        if _WEEKDAY_NAMES[wall.weekday()] not in days:
            # RFC 5545 leaves a first start off the rule undefined: refused, not guessed.
            raise Invalid("startTime must fall on one of BYDAY's days in recurrence.timezone")
    until = None
    if "UNTIL" in parts:
        until = _until(parts["UNTIL"])
        if until < first_start:
            raise Invalid("recurrence.rule: UNTIL is before startTime")
        if until - first_start > MAX_UNTIL:
            raise Invalid("recurrence.rule: UNTIL must be at most 2 years after startTime")
    return Rule(text, weekly, interval, days, count, until)


def _whole(value: str, name: str, high: int) -> int:
    if not _INTEGER.fullmatch(value) or int(value) > high:
        raise Invalid(f"recurrence.rule: {name} must be an integer from 1 to {high}")
    return int(value)


def _until(value: str) -> datetime:
    match = _UNTIL.fullmatch(value)
    if match is None:
        raise Invalid("recurrence.rule: UNTIL must be a UTC time such as 20270630T000000Z")
    try:
        return datetime(*map(int, match.groups()), tzinfo=UTC)
    except ValueError:
        raise Invalid("recurrence.rule: UNTIL is not a date") from None


def occurrences(
    rule: Rule, where: ZoneInfo, first_start: datetime, after: datetime, upto: datetime
) -> list[datetime]:
    """The starts (UTC) of the series' occurrences with `after` < start <= `upto`, in order.
    `first_start` is the first occurrence; each later one is at its local wall-clock time in
    `where`. Never more than the rule allows, nor past the calendar's end."""
    wall = local(first_start, where)
    if wall is None or upto <= after:
        return []
    anchor, skipped = wall.replace(tzinfo=None), 0
    if not rule.bounded:
        anchor, skipped = _moved_forward(rule, anchor, local(after, where))
    dates = rrule.rrule(
        rrule.WEEKLY if rule.weekly else rrule.DAILY,
        dtstart=anchor,
        interval=rule.interval,
        byweekday=[_DAYS[day] for day in rule.days] or None,
        count=rule.count,
        cache=False,
    )
    found = []
    try:
        for wall_time in dates:
            start = instant_of(wall_time, where)
            if start is None or start > upto or (rule.until and start > rule.until):
                break
            if start > after:
                found.append(start)
    except (OverflowError, ValueError):  # stepping past the year 9999
        pass
    return found


def _moved_forward(rule: Rule, anchor: datetime, after: datetime | None) -> tuple[datetime, int]:
    """An anchor whole periods (INTERVAL days or weeks of wall-clock time) after `anchor`, at
    most a period before `after`: an unbounded rule's occurrences from there on are the same
    (the weekday and the week's place in the interval are kept), and fewer are stepped over."""
    if after is None:
        return anchor, 0
    period = timedelta(weeks=rule.interval) if rule.weekly else timedelta(days=rule.interval)
    periods = (after.replace(tzinfo=None) - anchor) // period - 1
    if periods <= 0:
        return anchor, 0
    moved = shifted(anchor.replace(tzinfo=UTC), period * periods).replace(tzinfo=None)
    return moved, periods


def horizon(now: datetime) -> datetime:
    """How far ahead occurrences exist, as of `now`."""
    return shifted(now, HORIZON)
