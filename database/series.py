"""Repeating availabilities (contract v4, docs/recurrence.md): a series and its occurrences.

Every occurrence is an availability of its own (its own id, the series' `seriesId`), so
booking, joining, cancelling and deleting stay the per-item transactions they are. The
occurrences starting within 28 days exist: those of a new series at once, later ones made by
`extend` (the daily extendSeries job).

The series itself is one meetings-table item, `series#<series id>` (no owner or participant:
in no member index, and no stream consumer reads it), holding the first occurrence as
published, its rule and zone, and `extendedUntil`: every occurrence starting up to that
instant has been made. It only moves forward, in the same transaction that puts the
occurrences it passes and conditional on the value read, so a repeated run, two runs at once
or a late one create no occurrence twice, and an occurrence deleted or booked (its item gone)
is never made again. An occurrence's id is derived from the series and its start (a UUID v5):
the same occurrence has the same key whoever makes it. `seriesStatus` puts a series still
running in the sparse `SeriesIndex` (by `extendedUntil`), which is how extendSeries finds the
series it must extend without a Scan; a series that ended (its rule ran out, or its owner
deleted it) leaves the index.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

import msgspec
from botocore.exceptions import ClientError

from database.availabilities import (
    _NOBODY_JOINED,
    CANNOT_CHARGE,
    _cancelled_by_condition,
    charges_check,
    owned_query,
    snapshot,
    stored,
)
from database.client import (
    AVAILABILITIES_TABLE,
    MEETINGS_TABLE,
    conditional,
    dynamodb,
    error_code,
    from_item,
    query_items,
    to_item,
    translate_errors,
)
from database.errors import Invalid, NotFound
from database.models import Availability, Recurrence
from database.times import expiration, format_time, parse_stored
from rules.recurrence import Rule, check_length, horizon, occurrences, parse_rule
from rules.zones import LATEST, shifted, zone

ACTIVE = "ACTIVE"
SERIES_NOT_FOUND = "You have no series with this id"
# Occurrences put in one transaction (DynamoDB allows 100 items; a daily series has at most
# 29 within the horizon): more wait for the next run.
MAX_BATCH = 90
EXTEND_ATTEMPTS = 3  # rounds of an extension that lost a race (someone else moved it)


def _expires(instant: datetime) -> int:
    """The TTL of an item tied to `instant`, however late in the calendar."""
    return expiration(min(instant, LATEST - timedelta(days=3)))


def series_key(series_id: str) -> str:
    return f"series#{series_id}"


def occurrence_id(series_id: str, start: datetime) -> str:
    """The id of the series' occurrence starting at `start`: the same whoever makes it."""
    return str(uuid5(UUID(series_id), format_time(start)))


@dataclass(frozen=True)
class Series:
    id: str
    owner: str
    first: Availability  # the first occurrence, as published: every other is a copy
    rule: Rule
    where: ZoneInfo
    extended: str  # stored time: every occurrence starting up to it was made

    @property
    def length(self) -> timedelta:
        return self.first.endTime - self.first.startTime

    @classmethod
    def from_item(cls, item: dict) -> "Series":
        first = Availability.from_item(item["template"])
        recurrence = first.recurrence
        # A series' template is its first occurrence, stored with its zone resolved (create).
        assert recurrence is not None and recurrence.timezone is not None
        where = zone(recurrence.timezone)
        return cls(
            id=item["seriesId"],
            owner=item["seriesOwner"],
            first=first,
            rule=parse_rule(recurrence.rule, first.startTime, where),
            where=where,
            extended=item["extendedUntil"],
        )

    def occurrence(self, start: datetime) -> Availability:
        return msgspec.structs.replace(
            self.first,
            id=occurrence_id(self.id, start),
            startTime=start,
            endTime=start + self.length,
        )

    def starts(self, after: datetime, upto: datetime, at: datetime) -> list[datetime]:
        """The occurrences starting in (after, upto] that have not ended at `at`."""
        found = occurrences(self.rule, self.where, self.first.startTime, after, upto)
        return [start for start in found if start + self.length > at]

    def runs_past(self, until: datetime) -> bool:
        """Whether the rule has occurrences after `until` (an unbounded one always has)."""
        if not self.rule.bounded:
            return True
        return bool(occurrences(self.rule, self.where, self.first.startTime, until, LATEST))


def _put(item: dict) -> dict:
    return {
        "Put": {
            "TableName": AVAILABILITIES_TABLE,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(id)",
        }
    }


def _window(series: Series, starts: list[datetime], target: datetime) -> tuple[list, datetime]:
    """The starts one transaction makes, and how far the series is then extended."""
    if len(starts) > MAX_BATCH:
        return starts[:MAX_BATCH], starts[MAX_BATCH - 1]
    return starts, target


def _state(series: Series, until: datetime) -> tuple[str, dict, dict]:
    """The series item's update for being extended to `until`: SET clause, names, values (it
    leaves the index once its rule has no occurrence after `until`)."""
    values: dict[str, str | int] = {":until": format_time(until)}
    if series.runs_past(until):
        return "SET extendedUntil = :until", {}, values
    values[":expires"] = _expires(shifted(until, series.length))
    return (
        "SET extendedUntil = :until, expirationTime = :expires REMOVE seriesStatus",
        {},
        values,
    )


@translate_errors
def create(availability: Availability, zone_name: str, at: datetime) -> Availability:
    """Publishes the series whose first occurrence is `availability` (its `recurrence` in
    `zone_name`), created at `at`: the series item and every occurrence starting within the
    horizon (the first always), in one transaction. Answers the first occurrence."""
    where = zone(zone_name, "recurrence.timezone")
    check_length(availability.startTime, availability.endTime)
    assert availability.recurrence is not None  # the caller creates a series of a recurrence
    rule = parse_rule(availability.recurrence.rule, availability.startTime, where)
    series_id = str(uuid4())
    first = msgspec.structs.replace(
        availability,
        id=occurrence_id(series_id, availability.startTime),
        seriesId=series_id,
        recurrence=Recurrence(rule=rule.text, timezone=zone_name),
    )
    series = Series(series_id, first.owner, first, rule, where, format_time(first.startTime))
    target = max(horizon(at), first.startTime)
    starts, until = _window(series, series.starts(first.startTime, target, at), target)
    item = {
        "id": series_key(series_id),
        "seriesId": series_id,
        "seriesOwner": first.owner,
        "template": snapshot(first),
        "extendedUntil": format_time(until),
    }
    if series.runs_past(until):
        item["seriesStatus"] = ACTIVE
    else:
        item["expirationTime"] = _expires(shifted(until, series.length))
    writes = [
        {
            "Put": {
                "TableName": MEETINGS_TABLE,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        },
        _put(stored(first)),
        *(_put(stored(series.occurrence(start))) for start in starts),
    ]
    if first.price is not None:
        writes.append(charges_check(first.owner))
    try:
        dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if _cancelled_by_condition(error, index=len(writes) - 1) and first.price is not None:
            raise Invalid(CANNOT_CHARGE) from error
        raise
    return first


@translate_errors
def due(at: datetime) -> list[Series]:
    """The series still running that are not extended as far as `at`'s horizon."""
    request = {
        "TableName": MEETINGS_TABLE,
        "IndexName": "SeriesIndex",
        "KeyConditionExpression": "seriesStatus = :active AND extendedUntil < :target",
        "ExpressionAttributeValues": to_item(
            {":active": ACTIVE, ":target": format_time(horizon(at))}
        ),
    }
    return [Series.from_item(from_item(item)) for item in query_items(request)]


@translate_errors
def extend(series: Series, at: datetime) -> int:
    """Makes the series' occurrences starting within the horizon of `at` (those not ended by
    then) that were not made yet; answers how many. Idempotent: the series item moves from
    the `extendedUntil` read, so of two runs one does it, and the other reads again and finds
    nothing left (or the series ended, or deleted)."""
    for _ in range(EXTEND_ATTEMPTS):
        target = horizon(at)
        extended = parse_stored(series.extended)
        if extended >= target:
            return 0
        starts, until = _window(series, series.starts(extended, target, at), target)
        update, names, values = _state(series, until)
        writes = [
            {
                "Update": {
                    "TableName": MEETINGS_TABLE,
                    "Key": to_item({"id": series_key(series.id)}),
                    "UpdateExpression": update,
                    "ConditionExpression": "extendedUntil = :read AND seriesStatus = :active",
                    **({"ExpressionAttributeNames": names} if names else {}),
                    "ExpressionAttributeValues": to_item(
                        {**values, ":read": series.extended, ":active": ACTIVE}
                    ),
                }
            },
            *(_put(stored(series.occurrence(start))) for start in starts),
        ]
        try:
            dynamodb().transact_write_items(TransactItems=writes)
            return len(starts)
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
        current = _get(series.id)
        if current is None or current.get("seriesStatus") != ACTIVE:
            return 0  # deleted or ended meanwhile
        series = Series.from_item(current)
    return 0  # still racing: the next run goes on from where the others left it


def _get(series_id: str) -> dict | None:
    answer = dynamodb().get_item(
        TableName=MEETINGS_TABLE, Key=to_item({"id": series_key(series_id)}), ConsistentRead=True
    )
    return from_item(answer["Item"]) if "Item" in answer else None


@translate_errors
def delete(owner: str, series_id: str, at: datetime) -> int:
    """Ends the owner's series (no more occurrences are made) and deletes its open
    occurrences; a booked one (a meeting now) and a group session someone joined stay.
    Answers how many were deleted. Another player's series, or none: 404."""
    ended = conditional(
        dynamodb().update_item,
        TableName=MEETINGS_TABLE,
        Key=to_item({"id": series_key(series_id)}),
        UpdateExpression="SET ended = :yes, expirationTime = :expires REMOVE seriesStatus",
        ConditionExpression="seriesOwner = :owner",
        ExpressionAttributeValues=to_item(
            {":yes": True, ":expires": _expires(at), ":owner": owner}
        ),
    )
    if ended is None:
        raise NotFound(SERIES_NOT_FOUND)
    # The series can make no occurrence now: those it made are all in the owner's partition.
    request = owned_query(owner)
    request["FilterExpression"] = "seriesId = :series"
    request["ExpressionAttributeValues"][":series"] = {"S": series_id}
    request["ProjectionExpression"] = "#owner, id"
    # Strongly consistent: an occurrence an extendSeries run made just before the series ended
    # is read too.
    request["ConsistentRead"] = True
    return sum(_delete_open(owner, item["id"]["S"], series_id) for item in query_items(request))


def _delete_open(owner: str, occurrence: str, series_id: str) -> int:
    deleted = conditional(
        dynamodb().delete_item,
        TableName=AVAILABILITIES_TABLE,
        Key=to_item({"owner": owner, "id": occurrence}),
        ConditionExpression=f"seriesId = :series AND ({_NOBODY_JOINED})",
        ExpressionAttributeValues=to_item({":series": series_id, ":zero": 0}),
    )
    return 0 if deleted is None else 1  # booked or joined meanwhile: it stays
