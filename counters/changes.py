"""Which change of the availabilities and meetings tables counts what: the original's counters
(docs/statistics.md), read from a stream record's old and new images. Pure but for `Lookups`,
the players' cohorts, which an image does not hold.

A removed availability was deleted by its owner or booked (expiries are left out by the
caller): its record cannot tell which, so removals are counted (`removed`, `removedCohorts`)
and a deletion is a removal that no booking accounts for: `deleted` = removed - booked, by
owner cohort too (a booking's meeting keeps its availability's ownerCohort). Exact once both
streams are counted, with no read and no race.

Counts are {statistics item: {counter: increment}}; a counter of a map is `<map>:<key>` (e.g.
`ownerCohorts:1200-1300`), a top-level attribute that DynamoDB's ADD creates when it is first
counted (ADD cannot create a key in a map that does not exist yet).
"""

from collections import Counter
from typing import Any, Protocol

Item = dict[str, Any]
Counts = dict[str, Counter]

AVAILABILITIES = "availabilityStatistics"
MEETINGS = "meetingStatistics"
# Each statistics object's numbers and maps, as GET /admin/statistics answers them.
FIELDS = {
    AVAILABILITIES: (
        ("created", "deleted", "booked"),
        ("ownerCohorts", "deleterCohorts", "bookableCohorts", "groupCohorts", "types"),
    ),
    MEETINGS: (
        ("created", "canceled", "rescheduled"),
        ("ownerCohorts", "participantCohorts", "cancelerCohorts", "groupCohorts", "types"),
    ),
}
CANCELED = "CANCELED"


class Lookups(Protocol):
    def cohort(self, username: str) -> str:
        """The player's cohort now ("" when none)."""
        ...


def availability_counts(old: Item | None, new: Item | None, lookups: Lookups) -> Counts:
    """An availability published (not a reopened one), removed (deleted or booked; the caller
    leaves out expiries), or players joining a group session."""
    counts: Counts = {}
    if old is None and new is not None and not new.get("reopened"):
        published = _add(counts, AVAILABILITIES, "created")
        _add_key(published, "ownerCohorts", new["ownerCohort"])
        if new.get("maxParticipants", 1) > 1:
            _add_key(published, "groupCohorts", new["ownerCohort"])
        for cohort in new["cohorts"]:
            _add_key(published, "bookableCohorts", cohort)
        for kind in new["types"]:
            _add_key(published, "types", kind)
    elif new is None and old is not None:
        removed = _add(counts, AVAILABILITIES, "removed")
        _add_key(removed, "removedCohorts", old["ownerCohort"])
    elif old is not None and new is not None:
        before, after = _participants(old), _participants(new)
        for username in sorted(after.keys() - before.keys()):
            joined = counts.setdefault(MEETINGS, Counter())
            _add_key(joined, "groupCohorts", after[username].get("cohort", ""))
    return counts


def meeting_counts(old: Item | None, new: Item | None, lookups: Lookups) -> Counts:
    """A one-to-one meeting booked (new, or a canceled one's id booked again), or canceled.
    Group seats are counted as joins from the availabilities' stream; expiries are not here."""
    item = new or old
    if item is None or "participant" not in item:  # a group session's seat
        return {}
    counts: Counts = {}
    was_on = old is not None and old.get("status") != CANCELED
    is_on = new is not None and new.get("status") != CANCELED
    # `new is not None` again: is_on says so, but not to a type checker.
    if new is not None and is_on and not was_on and new.get("rescheduledFrom"):
        # A reschedule is counted once: the slot it took was booked (so `deleted`, removals no
        # booking accounts for, stays exact, by owner cohort too), and `rescheduled` once; it is
        # no new meeting, and the meeting it moved is not counted canceled (below).
        _add(counts, AVAILABILITIES, "booked")
        moved = _add(counts, MEETINGS, "rescheduled")
        published = new.get("availability") or {}
        owner_cohort = published.get("ownerCohort") or lookups.cohort(new["owner"])
        _add_key(moved, "ownerCohorts", owner_cohort)
    elif new is not None and is_on and not was_on:
        _add(counts, AVAILABILITIES, "booked")
        booked = _add(counts, MEETINGS, "created")
        published = new.get("availability") or {}
        owner_cohort = published.get("ownerCohort") or lookups.cohort(new["owner"])
        _add_key(booked, "ownerCohorts", owner_cohort)
        _add_key(booked, "participantCohorts", lookups.cohort(new["participant"]))
        _add_key(booked, "types", new["type"])
    elif was_on and new is not None and not is_on and not new.get("rescheduledTo"):
        canceled = _add(counts, MEETINGS, "canceled")
        canceler = new.get("canceledBy")
        _add_key(canceled, "cancelerCohorts", lookups.cohort(canceler) if canceler else "")
    return counts


def _add(counts: Counts, statistics: str, number: str) -> Counter:
    counter = counts.setdefault(statistics, Counter())
    counter[number] += 1
    return counter


def _add_key(counter: Counter, name: str, key: str) -> None:
    """One more under `key` of the map `name`; a player without a cohort is in the totals only."""
    if key:
        counter[f"{name}:{key}"] += 1


def _participants(availability: Item) -> dict[str, Item]:
    return availability.get("participants") or {}


def statistics_of(items: dict[str, Item]) -> dict[str, dict[str, Any]]:
    """The stored counters (statistics item id -> item) as GET /admin/statistics answers them:
    every number and map present, zero and empty until something is counted."""
    answer = {}
    for statistics, (numbers, maps) in FIELDS.items():
        item = items.get(statistics) or {}
        body: dict[str, Any] = {name: int(item.get(name, 0)) for name in numbers}
        body.update({name: _map(item, name) for name in maps})
        answer[statistics] = body
    # Removals no booking accounts for. Until the meetings' stream has caught up with the
    # availabilities' (seconds), a booking may be counted as a removal first: never below 0.
    published, booked = answer[AVAILABILITIES], answer[MEETINGS]["ownerCohorts"]
    stored = items.get(AVAILABILITIES) or {}
    published["deleted"] = max(0, int(stored.get("removed", 0)) - published["booked"])
    published["deleterCohorts"] = {
        cohort: count - booked.get(cohort, 0)
        for cohort, count in _map(stored, "removedCohorts").items()
        if count > booked.get(cohort, 0)
    }
    return answer


def _map(item: Item, name: str) -> dict[str, int]:
    """The map `name` from its top-level `<name>:<key>` counters."""
    prefix = f"{name}:"
    return {
        attribute[len(prefix) :]: int(value)
        for attribute, value in item.items()
        if attribute.startswith(prefix)
    }
