"""Time zones: IANA names (never fixed offsets), a player's local day, and instants moved by a
span without ever leaving the calendar.

Pure rules (no boto3, no tables), so they are unit-tested in milliseconds. Zones come from the
standard library's `zoneinfo`; Lambda's python3.12 runtime (Amazon Linux 2023) has no
/usr/share/zoneinfo, so the functions that import this module carry the `tzdata` package
(the `tzdata` layer: serverless.yml's `requirementLayers`). The names accepted are
tzdata's own list, so a name valid on a developer's machine (`localtime`, from the system's
database) is not refused only once deployed.
"""

import functools
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from rules.errors import Invalid

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

DEFAULT_ZONE = "UTC"
# datetime's calendar ends: every computation here clamps to them (or refuses) instead of
# raising OverflowError.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


@functools.cache
def zone_names() -> frozenset[str]:
    import importlib.resources  # only where a zone is checked

    return frozenset(importlib.resources.files("tzdata").joinpath("zones").read_text().split())


def is_zone(name: object) -> bool:
    """An IANA time-zone name that tzdata knows (`Europe/Berlin`, `UTC`)."""
    return isinstance(name, str) and (name == DEFAULT_ZONE or name in zone_names())


def zone(name: str, field: str = "timezone") -> "ZoneInfo":
    """The zone named `name`; Invalid naming `field` for anything else."""
    if not is_zone(name):
        raise Invalid(f"{field}: must be an IANA time-zone name such as Europe/Berlin")
    # Imported here: zoneinfo costs ~5 ms of cold start (its search path reads sysconfig), and
    # every function loads this module (database.models checks names) but few read a zone.
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def shifted(instant: datetime, span: timedelta) -> datetime:
    """`instant` + `span`, clamped to the calendar's ends (never an OverflowError)."""
    try:
        return instant + span
    except OverflowError:
        return LATEST if span > timedelta(0) else EARLIEST


def local(instant: datetime, where: tzinfo) -> datetime | None:
    """`instant` as wall-clock time in `where`; None where that falls off the calendar (the
    first or last hours of year 1 or 9999 in a zone ahead of or behind UTC)."""
    try:
        return instant.astimezone(where)
    except (OverflowError, ValueError):
        return None


def local_day(instant: datetime, where: tzinfo) -> date:
    """The day `instant` falls on in `where`, clamped to the calendar's first and last days."""
    wall = local(instant, where)
    if wall is not None:
        return wall.date()
    return date.min if instant.year == 1 else date.max


def instant_of(wall: datetime, where: tzinfo) -> datetime | None:
    """The UTC instant of the naive wall-clock time `wall` in `where`, as RFC 5545 reads one:
    a time that does not exist (spring forward) is moved forward by the gap, one that happens
    twice (fall back) is the first of the two. zoneinfo's fold=0 means exactly that: the
    offset in force before the transition. None off the calendar's ends."""
    try:
        return wall.replace(tzinfo=where, fold=0).astimezone(UTC)
    except (OverflowError, ValueError):
        return None
