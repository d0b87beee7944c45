"""The availabilities table (`owner` + `id`) and its `SearchIndex` (`status` + `startTime`).

An open availability is SCHEDULED, and so in SearchIndex. A one-to-one availability becomes a
meeting when booked: it is deleted here and the meeting put, in one transaction. A group
session stays here: each join adds the player to its `participants` map (username ->
participant) and to `participantCount`, and puts the player's seat in the meetings table (see
database/meetings.py), in one transaction. It is BOOKED (out of search) while full and CANCELED
once its owner cancels it. docs/lifecycle.md has the whole design.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import uuid4

import msgspec
from botocore.exceptions import ClientError

from database import feed_version, sequence
from database.client import (
    AVAILABILITIES_TABLE,
    MEETINGS_TABLE,
    USERS_TABLE,
    batch_get,
    dynamodb,
    error_code,
    from_item,
    to_item,
    translate_errors,
)
from database.errors import Conflict, DataError, Invalid, NotFound
from database.models import (
    BOOKED,
    CANCELED,
    SCHEDULED,
    Availability,
    Meeting,
    OwnUser,
    Participant,
    Payment,
)
from database.paging import decode_key, encode_key, is_stored_time, query_page, starting_from
from database.sequence import Sequenced
from database.times import expiration, format_time, now
from rules.booking import DAY_FULL, MAX_WINDOW, DailyLimit
from rules.cohorts import admitting
from rules.zones import shifted

DAY = timedelta(days=1)

BOOKED_OR_MISSING = "Availability not found or already booked"
ALREADY_BOOKED = "This availability has already been booked"
NOT_YOURS = "You have no availability with this id"
HAS_PARTICIPANTS = "This session has participants: cancel it instead"
SESSION_FULL = "This session is full"
ALREADY_JOINED = "You have already joined this session"
SESSION_CHANGED = "This session changed while you joined it: please try again"
CANNOT_CHARGE = "Connect a Stripe account that can take charges before setting a price"
# Optimistic rounds of a join before giving up (each lost round means someone else got a seat).
JOIN_ATTEMPTS = 5


def stored(availability: Availability) -> dict:
    """The item of a newly published (or reopened) availability: open, no one joined yet."""
    return {
        **snapshot(availability),
        "status": SCHEDULED,
        "participants": {},
        "participantCount": 0,
        "expirationTime": expiration(availability.endTime),
    }


def snapshot(availability: Availability) -> dict:
    """What the owner published: a booked meeting keeps it, to reopen the slot exactly."""
    published = availability.to_json()
    del published["status"], published["participants"]
    return published


@translate_errors
def put_availability(availability: Availability) -> Availability:
    """Publishes a new availability (no id: it gets a new UUID v4, which no item has) or
    replaces the owner's own availability with its id (none: 404). Never another player's, nor
    an item it did not make: the write is conditional on the item being there (a replacement)
    or not (a new one). Refused too: replacing a group session someone joined (it would drop
    them), or one whose id is a meeting still on (it could never be booked), or changing an
    occurrence's `recurrence` (400). A priced one also needs its owner's Stripe account to take
    charges, checked in the same transaction.

    A replacement is an Update of every published field, not a Put: an occurrence of a series
    keeps its `seriesId` and `recurrence` (which a client of an earlier version does not send),
    so deleting the series still finds it."""
    replacing = bool(availability.id)
    if not replacing:
        availability = msgspec.structs.replace(availability, id=str(uuid4()))
        write = {
            "Put": {
                "TableName": AVAILABILITIES_TABLE,
                "Item": to_item(stored(availability)),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }
    else:
        write = {"Update": _replacement(availability)}
    writes = [
        {
            "ConditionCheck": {
                "TableName": MEETINGS_TABLE,
                "Key": to_item({"id": availability.id}),
                "ConditionExpression": "attribute_not_exists(id) OR #status = :canceled",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_item({":canceled": CANCELED}),
            }
        },
        write,
    ]
    if availability.price is not None:
        writes.append(charges_check(availability.owner))
    try:
        dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if _cancelled_by_condition(error, index=1):
            if not replacing:
                raise Conflict("Please try again") from error  # a new id that is taken (never)
            old = _old_item(error, index=1)
            if old is None:
                raise NotFound(NOT_YOURS) from error
            if int(old.get("participantCount", {}).get("N", "0")):
                raise Conflict(HAS_PARTICIPANTS) from error
            raise Invalid(RECURRENCE_FIXED) from error
        if _cancelled_by_condition(error, index=0):
            raise Conflict(ALREADY_BOOKED) from error
        if _cancelled_by_condition(error, index=2):
            raise Invalid(CANNOT_CHARGE) from error
        raise
    return Availability.from_item(stored(availability))


RECURRENCE_FIXED = "recurrence cannot be changed on an existing availability"


def charges_check(owner: str) -> dict:
    """A transaction's check that `owner`'s Stripe account takes charges (a priced slot)."""
    return {
        "ConditionCheck": {
            "TableName": USERS_TABLE,
            "Key": to_item({"username": owner}),
            "ConditionExpression": "stripeChargesEnabled = :yes",
            "ExpressionAttributeValues": to_item({":yes": True}),
        }
    }


def _replacement(availability: Availability) -> dict:
    """The Update replacing the owner's availability with `availability`: every published
    field set, `price` and `reopened` removed when absent (as a Put would), a series' fields
    kept; the `recurrence` a body names must be the one the item has."""
    fields = {
        name: value
        for name, value in stored(availability).items()
        if name not in ("owner", "id", "seriesId", "recurrence")
    }
    names = {f"#f{n}": name for n, name in enumerate(fields)}
    values = {f":f{n}": value for n, value in enumerate(fields.values())}
    removed = ["reopened"] + (["price"] if availability.price is None else [])
    names.update({f"#r{n}": name for n, name in enumerate(removed)})
    condition = f"attribute_exists(id) AND ({_NOBODY_JOINED})"
    values[":zero"] = 0
    if availability.recurrence is not None:
        names.update({"#recurrence": "recurrence", "#rule": "rule"})
        values[":rule"] = availability.recurrence.rule
        condition += " AND #recurrence.#rule = :rule"
        if availability.recurrence.timezone is not None:
            names["#zone"] = "timezone"
            values[":zone"] = availability.recurrence.timezone
            condition += " AND #recurrence.#zone = :zone"
    # a changed time, location or description: the calendar feeds' copies are replaced
    return sequence.raised(
        {
            "TableName": AVAILABILITIES_TABLE,
            "Key": to_item({"owner": availability.owner, "id": availability.id}),
            "UpdateExpression": "SET "
            + ", ".join(f"#f{n} = :f{n}" for n in range(len(fields)))
            + " REMOVE "
            + ", ".join(f"#r{n}" for n in range(len(removed))),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
            # On a failure, tells a missing item (404) from one with participants (409) or with
            # another recurrence (400).
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    )


_NOBODY_JOINED = "attribute_not_exists(participantCount) OR participantCount = :zero"


@translate_errors
def get_availability(owner: str, availability_id: str) -> Availability | None:
    item = dynamodb().get_item(
        TableName=AVAILABILITIES_TABLE, Key=to_item({"owner": owner, "id": availability_id})
    )
    return Availability.from_item(from_item(item["Item"])) if "Item" in item else None


@translate_errors
def get_with_player(
    owner: str, availability_id: str, username: str
) -> tuple[Availability | None, OwnUser | None, OwnUser | None]:
    """An availability, the profile of the player booking it and its owner's (their zone and
    daily limit), in one round trip."""
    found = batch_get(
        {
            AVAILABILITIES_TABLE: [{"owner": owner, "id": availability_id}],
            USERS_TABLE: [{"username": username}, {"username": owner}],
        }
    )
    availability = found.get((AVAILABILITIES_TABLE, owner, availability_id))
    player = found.get((USERS_TABLE, username))
    coach = found.get((USERS_TABLE, owner))
    return (
        Sequenced.from_item(from_item(availability)) if availability else None,
        OwnUser.from_item(from_item(player)) if player else None,
        OwnUser.from_item(from_item(coach)) if coach else None,
    )


@translate_errors
def delete_availability(owner: str, availability_id: str) -> None:
    """Deletes an availability, unless it is a group session someone joined (409)."""
    try:
        dynamodb().delete_item(
            TableName=AVAILABILITIES_TABLE,
            Key=to_item({"owner": owner, "id": availability_id}),
            ConditionExpression=f"attribute_exists(id) AND ({_NOBODY_JOINED})",
            ExpressionAttributeValues=to_item({":zero": 0}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            if "Item" in error.response:
                raise Conflict(HAS_PARTICIPANTS) from error
            raise NotFound(BOOKED_OR_MISSING) from error
        raise


@translate_errors
def list_owned(owner: str, limit: int, start: str | None) -> tuple[list[Availability], str | None]:
    """The owner's availabilities (group sessions whatever their status), in id order."""
    start_key = start and decode_key(start, shapes=({"owner", "id"},), fixed={"owner": owner})
    items, key = query_page(owned_query(owner), limit, start_key or None)
    return [Availability.from_item(item) for item in items], encode_key(key) if key else None


def owned_query(owner: str, since: str | None = None) -> dict:
    """The Query for an owner's availabilities (starting from `since`, if given)."""
    request = {
        "TableName": AVAILABILITIES_TABLE,
        "KeyConditionExpression": "#owner = :owner",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": to_item({":owner": owner}),
    }
    return starting_from(request, since)


@translate_errors
def search(
    caller: str,
    cohort: str,
    start: datetime,
    end: datetime | None,
    limit: int,
    start_token: str | None,
) -> tuple[list[Availability], str | None]:
    """Others' open availabilities (and group sessions with a free seat) starting in
    [start, end] that admit `cohort`, in time order."""
    low, high = format_time(start), end and format_time(end)
    start_key = start_token and decode_key(
        start_token,
        shapes=({"status", "startTime", "owner", "id"},),
        fixed={"status": SCHEDULED},
    )
    if start_key and not _within(start_key["startTime"], low, high):
        raise Invalid("startKey is not valid for this query", detail=f"startKey {start_key}")
    admitted, cohorts = _admitting(cohort)
    values = {":status": SCHEDULED, ":low": low, ":caller": caller, **cohorts}
    if high:
        values[":high"] = high
    request = {
        "TableName": AVAILABILITIES_TABLE,
        "IndexName": "SearchIndex",
        "KeyConditionExpression": "#status = :status AND "
        + ("#start BETWEEN :low AND :high" if high else "#start >= :low"),
        "FilterExpression": f"#owner <> :caller AND ({admitted})",
        "ExpressionAttributeNames": {
            "#status": "status",
            "#start": "startTime",
            "#owner": "owner",
            "#cohorts": "cohorts",
        },
        "ExpressionAttributeValues": to_item(values),
    }
    items, key = query_page(request, limit, start_key or None)
    return [Availability.from_item(item) for item in items], encode_key(key) if key else None


def bookable_query(caller: str, cohort: str, since: datetime) -> tuple[dict, str]:
    """The Query for what `caller` (of `cohort`) can book that has not ended by `since`: others'
    open availabilities and group sessions with a free seat (both SCHEDULED) admitting the
    cohort, except the sessions the caller joined; and the lowest startTime it reads.

    SearchIndex orders by startTime, and an availability not ended by `since` started at most
    MAX_WINDOW before it: the key condition reads from there and the filter keeps those whose
    endTime is not before `since` (what it reads beyond that is what ended within MAX_WINDOW of
    `since`, and DynamoDB's TTL removes those 48 hours after they end)."""
    low = format_time(shifted(since, -MAX_WINDOW))  # year 1: from its first instant
    admitted, cohorts = _admitting(cohort)
    values = {
        ":status": SCHEDULED,
        ":low": low,
        ":since": format_time(since),
        ":caller": caller,
        **cohorts,
    }
    request = {
        "TableName": AVAILABILITIES_TABLE,
        "IndexName": "SearchIndex",
        "KeyConditionExpression": "#status = :status AND #start >= :low",
        "FilterExpression": f"#end >= :since AND #owner <> :caller AND ({admitted}) AND "
        "attribute_not_exists(#participants.#caller)",
        "ExpressionAttributeNames": {
            "#status": "status",
            "#start": "startTime",
            "#end": "endTime",
            "#owner": "owner",
            "#cohorts": "cohorts",
            "#participants": "participants",
            "#caller": caller,
        },
        "ExpressionAttributeValues": to_item(values),
    }
    return request, low


def _admitting(cohort: str) -> tuple[str, dict[str, str]]:
    """The filter keeping the availabilities that admit a player of `cohort` (rules/cohorts.py:
    a player who has not picked one yet, only ALL_COHORTS), and its values."""
    values = {f":cohort{n}": entry for n, entry in enumerate(admitting(cohort))}
    return " OR ".join(f"contains(#cohorts, {name})" for name in values), values


def in_search_range(key: dict[str, str], low: str) -> bool:
    """A SearchIndex start key that a query from `low` on can resume from."""
    return key.get("status") == SCHEDULED and _within(key["startTime"], low, None)


def _within(value: str, low: str, high: str | None) -> bool:
    # Stored times are fixed-width UTC, so string order is time order.
    return is_stored_time(value) and low <= value and (high is None or value <= high)


def unchanged(availability: Availability) -> tuple[str, dict, dict]:
    """A condition that the item still holds what `availability` was read with (so what was
    checked against it still holds): (expression, names, values). A version 1 item has no
    location, description or seats (nor an older one bookableByFreeUsers): absent matches their
    defaults."""
    published = snapshot(availability)
    defaults = {"location": "", "description": "", "maxParticipants": 1}
    defaults["bookableByFreeUsers"] = False  # nor, before membership, this flag
    defaults["minNoticeMinutes"] = 0  # nor, before version 4, this one
    clauses, names, values = [], {}, {}
    for position, (name, value) in enumerate(published.items()):
        if name in ("owner", "id", "recurrence"):
            continue  # the key itself; a series' rule never changes (its seriesId is checked)
        names[f"#p{position}"], values[f":p{position}"] = name, value
        clause = f"#p{position} = :p{position}"
        if defaults.get(name) == value:
            clause = f"(attribute_not_exists(#p{position}) OR {clause})"
        clauses.append(clause)
    if availability.price is None:  # a free slot must not have been priced since
        names["#price"] = "price"
        clauses.append("attribute_not_exists(#price)")
    return " AND ".join(clauses), names, to_item(values)


@translate_errors
def book(
    availability: Availability,
    meeting: Meeting,
    payment: Payment | None = None,
    also: Sequence[tuple[dict, DataError]] = (),
    day: DailyLimit | None = None,
) -> None:
    """Turns a one-to-one availability into the meeting in one transaction: the availability
    must still be the one the booking was checked against, and its id must not be a meeting
    still on (a canceled one is replaced). A priced one is held (the meeting AWAITING_PAYMENT)
    with the Checkout Session that pays for it, and its ledger writes (`also`: each item with
    the error its failed condition means) are in the same transaction. With a coach's daily
    limit (`day`), the meeting's id joins that day's set in the same transaction, which holds
    at most the limit: of concurrent bookings of one day, only as many as there is room for
    commit (the set is one item, so they cannot all read "room left")."""
    writes = book_writes(availability, meeting, payment, day=day) + list(also)
    commit(writes + members_feeds(meeting))


def members_feeds(meeting: Meeting) -> list[tuple[dict, None]]:
    """A one-to-one meeting's change, in both members' calendar feeds (feed_version), for
    a transaction of `commit`'s."""
    return [
        (write, None) for write in feed_version.raises((meeting.owner, meeting.participant), now())
    ]


def book_writes(
    availability: Availability,
    meeting: Meeting,
    payment: Payment | None = None,
    *,
    day: DailyLimit | None = None,
    fields: dict | None = None,
) -> list[tuple[dict, DataError]]:
    """The booking's transaction items, each with the error its failed condition means: the
    availability's Delete, the meeting's Put (with `fields` stored too), and the day's count.
    A reschedule (database/rescheduling.py) commits them with its own."""
    condition, names, values = unchanged(availability)
    stored_meeting = {
        **meeting.to_json(),
        "availability": snapshot(availability),  # to reopen it if the participant cancels
        # where the meeting ends (a calendar feed's DTEND): its slot's end, as booked
        "endTime": format_time(availability.endTime),
        "expirationTime": expiration(meeting.startTime),
        # above the meeting this slot was booked as before, if any (the same UID): see
        # database/sequence.py
        sequence.SEQUENCE: sequence.carried(availability),
        **(fields or {}),
    }
    if payment is not None:
        stored_meeting["checkoutSessionId"] = payment.checkout_session
        if payment.payment_intent is not None:  # a paid meeting moved by a reschedule
            stored_meeting["paymentIntentId"] = payment.payment_intent
    if day is not None:
        stored_meeting["dayGuard"] = day.key  # a cancel takes the meeting out of it
    writes: list[tuple[dict, DataError]] = [
        (
            {
                "Delete": {
                    "TableName": AVAILABILITIES_TABLE,
                    "Key": to_item({"owner": availability.owner, "id": availability.id}),
                    "ConditionExpression": f"attribute_exists(id) AND {condition}",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            NotFound(BOOKED_OR_MISSING),
        ),
        (
            {
                "Put": {
                    "TableName": MEETINGS_TABLE,
                    "Item": to_item(stored_meeting),
                    # A canceled meeting is replaced only by a booking of the same owner's
                    # slot: never another player's meeting, whatever ids old items have.
                    "ConditionExpression": "attribute_not_exists(id) OR "
                    "(#status = :canceled AND #owner = :owner)",
                    "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
                    "ExpressionAttributeValues": to_item(
                        {":canceled": CANCELED, ":owner": availability.owner}
                    ),
                }
            },
            Conflict(ALREADY_BOOKED),
        ),
    ]
    if day is not None:
        writes.append((day_writes(day, meeting), Conflict(DAY_FULL)))
    return writes


def commit(writes: Sequence[tuple[dict, DataError | None]]) -> None:
    """Commits a booking's transaction; a failed condition raises the error paired with its
    item (None: the caller tells it itself from the ClientError)."""
    try:
        feed_version.transact([write for write, _ in writes])
    except ClientError as error:
        for index, (_, refusal) in enumerate(writes):
            if refusal is not None and _cancelled_by_condition(error, index=index):
                raise refusal from error
        if _conflicting(error):
            raise Conflict("This availability is being booked by someone else") from error
        raise


def day_writes(day: DailyLimit, meeting: Meeting) -> dict:
    """The meeting counted on its coach's day: its id added to the day's set (a meetings-table
    item with no owner or participant: in no index, and no stream consumer reads it), unless
    the set already holds the limit."""
    return {
        "Update": {
            "TableName": MEETINGS_TABLE,
            "Key": to_item({"id": day.key}),
            "UpdateExpression": "ADD meetingIds :meeting SET expirationTime = :expires",
            "ConditionExpression": "attribute_not_exists(meetingIds) OR size(meetingIds) < :limit",
            "ExpressionAttributeValues": {
                ":meeting": {"SS": [meeting.id]},
                ":limit": {"N": str(day.limit)},
                # The day has ended (in any zone) a day after the meeting's start.
                ":expires": {"N": str(expiration(shifted(meeting.startTime, DAY)))},
            },
        }
    }


def day_release(key: str, meeting: Meeting) -> dict:
    """A canceled meeting's place on its coach's day, given back, in the cancel's transaction
    (which is conditional on the meeting: giving it back twice changes nothing). No condition
    of its own: a day item already expired must not fail the cancel; recreated, it expires."""
    return {
        "Update": {
            "TableName": MEETINGS_TABLE,
            "Key": to_item({"id": key}),
            "UpdateExpression": "DELETE meetingIds :meeting "
            "SET expirationTime = if_not_exists(expirationTime, :expires)",
            "ExpressionAttributeValues": {
                ":meeting": {"SS": [meeting.id]},
                ":expires": {"N": str(expiration(shifted(meeting.startTime, DAY)))},
            },
        }
    }


def seat_id(session_id: str, username: str) -> str:
    """The meetings-table key of a player's seat in a group session."""
    return f"seat#{session_id}#{username}"


@translate_errors
def join(session: Availability, player: Participant) -> Availability:
    """Gives `player` a seat in the group session, never more than its `maxParticipants`,
    whatever the concurrency: each attempt is a transaction conditional on the seats the last
    read saw; a lost race reads again and tries again while seats are left."""
    for _ in range(JOIN_ATTEMPTS):
        if session.has_joined(player.username):
            raise Conflict(ALREADY_JOINED)
        if session.status != SCHEDULED or len(session.participants) >= session.maxParticipants:
            raise Conflict(SESSION_FULL if session.status == BOOKED else "This session is closed")
        try:
            _take_seat(session, player)
        except ClientError as error:
            if _cancelled_by_condition(error, index=1):
                raise Conflict(ALREADY_JOINED) from error
            if not (_cancelled_by_condition(error, index=0) or _conflicting(error)):
                raise
            session = _reread(session)
            continue
        last_seat = len(session.participants) + 1 == session.maxParticipants
        session.participants.append(player)
        session.status = BOOKED if last_seat else SCHEDULED
        return session
    raise Conflict(SESSION_CHANGED)


def _take_seat(session: Availability, player: Participant) -> None:
    taken = len(session.participants)
    last_seat = taken + 1 == session.maxParticipants
    condition, names, values = unchanged(session)
    # Exactly as many seats taken as read for the last one (it closes the session); fewer than
    # the last one otherwise, so that concurrent joins of a roomy session do not collide.
    seats = "participantCount = :taken" if last_seat else "participantCount < :last"
    update = "SET participants.#player = :player, participantCount = participantCount + :one"
    dynamodb().transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": AVAILABILITIES_TABLE,
                    "Key": to_item({"owner": session.owner, "id": session.id}),
                    "UpdateExpression": update + (", #status = :booked" if last_seat else ""),
                    "ConditionExpression": f"#status = :scheduled AND {seats} AND "
                    f"attribute_not_exists(participants.#player) AND {condition}",
                    "ExpressionAttributeNames": {
                        **names,
                        "#status": "status",
                        "#player": player.username,
                    },
                    "ExpressionAttributeValues": {
                        **values,
                        **to_item(
                            {
                                ":player": {**player.to_json(), "joinedAt": format_time(now())},
                                ":one": 1,
                                ":scheduled": SCHEDULED,
                                ":booked": BOOKED,
                                ":taken": taken,
                                ":last": session.maxParticipants - 1,
                            }
                        ),
                    },
                }
            },
            {
                "Put": {
                    "TableName": MEETINGS_TABLE,
                    "Item": to_item(
                        {
                            "id": seat_id(session.id, player.username),
                            "joinedBy": player.username,
                            "sessionOwner": session.owner,
                            "sessionId": session.id,
                            "startTime": format_time(session.startTime),
                            "status": SCHEDULED,
                            "expirationTime": expiration(session.endTime),
                        }
                    ),
                    # A seat given up is taken again: the same player's in the same session.
                    "ConditionExpression": "attribute_not_exists(id) OR (#status = :canceled "
                    "AND joinedBy = :joiner AND sessionOwner = :owner AND sessionId = :session)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": to_item(
                        {
                            ":canceled": CANCELED,
                            ":joiner": player.username,
                            ":owner": session.owner,
                            ":session": session.id,
                        }
                    ),
                }
            },
            # the session appears in the player's feed (and in its owner's with a first member)
            *feed_version.raises((session.owner, player.username), now()),
        ]
    )


def _reread(session: Availability) -> Availability:
    current = get_availability(session.owner, session.id)
    if current is None:
        raise NotFound(BOOKED_OR_MISSING)
    if snapshot(current) != snapshot(session):
        raise Conflict(SESSION_CHANGED)
    return current


@translate_errors
def leave(session: Availability, username: str) -> Availability:
    """Frees `username`'s seat: out of `participants`, the seat CANCELED, the session open
    again. Leaving twice, or leaving a session its owner canceled, changes nothing."""
    if session.status == CANCELED or not session.has_joined(username):
        return session
    try:
        feed_version.transact(
            [
                {
                    "Update": {
                        "TableName": AVAILABILITIES_TABLE,
                        "Key": to_item({"owner": session.owner, "id": session.id}),
                        "UpdateExpression": "REMOVE participants.#player "
                        "SET participantCount = participantCount - :one, #status = :scheduled",
                        "ConditionExpression": "attribute_exists(participants.#player) AND "
                        "#status IN (:scheduled, :booked)",
                        "ExpressionAttributeNames": {"#status": "status", "#player": username},
                        "ExpressionAttributeValues": to_item(
                            {":one": 1, ":scheduled": SCHEDULED, ":booked": BOOKED}
                        ),
                    }
                },
                {
                    "Update": {
                        "TableName": MEETINGS_TABLE,
                        "Key": to_item({"id": seat_id(session.id, username)}),
                        "UpdateExpression": "SET #status = :canceled",
                        "ConditionExpression": "#status = :scheduled",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": to_item(
                            {":canceled": CANCELED, ":scheduled": SCHEDULED}
                        ),
                    }
                },
                # it leaves the player's feed (and its owner's with the last member)
                *feed_version.raises((session.owner, username), now()),
            ]
        )
    except ClientError as error:
        if _cancelled_by_condition(error, index=0) or _cancelled_by_condition(error, index=1):
            # Someone else changed it first (a concurrent leave or cancel): answer with the
            # session as it is now, which is what a retry would get.
            return get_availability(session.owner, session.id) or session
        if _conflicting(error):
            raise Conflict("This session is changing: please try again") from error
        raise
    session.participants = [p for p in session.participants if p.username != username]
    session.status = SCHEDULED
    return session


@translate_errors
def cancel_session(session: Availability) -> Availability:
    """The owner cancels a group session: CANCELED, out of search, still on every member's
    calendar. Canceling again changes nothing.

    Its owner's and every member's calendar feed show the cancel (feed_version), so the cancel
    is conditional on the members being exactly those read: a join or leave meanwhile reads the
    session again and tries again."""
    for _ in range(JOIN_ATTEMPTS):
        if session.status == CANCELED:
            return session
        try:
            _cancel_session(session)
        except ClientError as error:
            if not (_cancelled_by_condition(error, index=0) or _conflicting(error)):
                raise
            current = get_availability(session.owner, session.id)
            if current is None:
                raise NotFound("Meeting not found") from error
            session = current
            continue
        return msgspec.structs.replace(session, status=CANCELED)
    raise Conflict(SESSION_CHANGED)


def _cancel_session(session: Availability) -> None:
    members = [participant.username for participant in session.participants]
    names = {"#status": "status", **({"#p": "participants"} if members else {})}
    names.update({f"#m{n}": member for n, member in enumerate(members)})
    # As many members as read, and each of them still there: the same members.
    condition = "attribute_exists(id) AND #status <> :canceled AND " + (
        "participantCount = :count"
        if members
        else "(attribute_not_exists(participantCount) OR participantCount = :count)"
    )
    # (short: MAX_PARTICIPANTS of these stay within an expression's 4 KB)
    condition += "".join(f" AND attribute_exists(#p.#m{n})" for n in range(len(members)))
    update = {
        "TableName": AVAILABILITIES_TABLE,
        "Key": to_item({"owner": session.owner, "id": session.id}),
        "UpdateExpression": "SET #status = :canceled",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_item({":canceled": CANCELED, ":count": len(members)}),
    }
    feeds = feed_version.raises([session.owner, *members], now())
    # its members' calendar feeds replace the event with the canceled one
    writes = [{"Update": sequence.raised(update)}]
    room = feed_version.TRANSACTION_LIMIT - len(writes)
    if len(feeds) > room:
        # More feeds than one transaction holds (a full session of MAX_PARTICIPANTS): the rest
        # are raised first. Should the cancel then fail, they were raised for nothing (one
        # full read each); the cancel cannot commit without them.
        dynamodb().transact_write_items(TransactItems=feeds[room:])
    dynamodb().transact_write_items(TransactItems=writes + feeds[:room])


def _cancelled_by(error: ClientError, reason: str, index: int | None = None) -> bool:
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    if index is None:
        return reason in reasons
    return len(reasons) > index and reasons[index] == reason


def _old_item(error: ClientError, index: int) -> dict | None:
    """The item a transaction's write `index` found, when its condition failed and it asked
    for ReturnValuesOnConditionCheckFailure (None: there was none)."""
    reasons = error.response.get("CancellationReasons", [])
    return reasons[index].get("Item") if len(reasons) > index else None


def _cancelled_by_condition(error: ClientError, index: int) -> bool:
    return _cancelled_by(error, "ConditionalCheckFailed", index)


def _conflicting(error: ClientError) -> bool:
    """Another transaction was changing the same item at the same moment."""
    return error_code(error) == "TransactionConflictException" or _cancelled_by(
        error, "TransactionConflict"
    )
