"""The availabilities table (`owner` + `id`) and its `SearchIndex` (`status` + `startTime`)."""

from datetime import datetime

from botocore.exceptions import ClientError

from api.errors import BadRequest, Conflict, NotFound
from database.client import (
    AVAILABILITIES_TABLE,
    MEETINGS_TABLE,
    dynamodb,
    error_code,
    from_item,
    to_item,
    translate_errors,
)
from database.models import ALL_COHORTS, Availability, Meeting
from database.paging import decode_key, encode_key, query_page
from database.times import expiration, format_time, parse_time

# Every stored availability is open for booking; booking deletes it.
SCHEDULED = "SCHEDULED"

BOOKED_OR_MISSING = "Availability not found or already booked"


def _stored(availability: Availability) -> dict:
    return {
        **availability.to_json(),
        "status": SCHEDULED,
        "expirationTime": expiration(availability.endTime),
    }


@translate_errors
def put_availability(availability: Availability) -> Availability:
    """Creates or replaces an availability, unless its id was already booked: re-creating it
    would leave an availability that can never be booked (its meeting id is taken)."""
    try:
        dynamodb().transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": MEETINGS_TABLE,
                        "Key": to_item({"id": availability.id}),
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
                {
                    "Put": {
                        "TableName": AVAILABILITIES_TABLE,
                        "Item": to_item(_stored(availability)),
                    }
                },
            ]
        )
    except ClientError as error:
        if _cancelled_by_condition(error, index=0):
            raise Conflict("This availability has already been booked") from error
        raise
    return availability


@translate_errors
def get_availability(owner: str, availability_id: str) -> Availability | None:
    item = dynamodb().get_item(
        TableName=AVAILABILITIES_TABLE, Key=to_item({"owner": owner, "id": availability_id})
    )
    return Availability.from_item(from_item(item["Item"])) if "Item" in item else None


@translate_errors
def delete_availability(owner: str, availability_id: str) -> None:
    try:
        dynamodb().delete_item(
            TableName=AVAILABILITIES_TABLE,
            Key=to_item({"owner": owner, "id": availability_id}),
            ConditionExpression="attribute_exists(id)",
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            raise NotFound(BOOKED_OR_MISSING) from error
        raise


@translate_errors
def list_owned(owner: str, limit: int, start: str | None) -> tuple[list[Availability], str | None]:
    """The owner's availabilities, in id order."""
    start_key = start and decode_key(start, shapes=({"owner", "id"},), fixed={"owner": owner})
    request = {
        "TableName": AVAILABILITIES_TABLE,
        "KeyConditionExpression": "#owner = :owner",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": to_item({":owner": owner}),
    }
    items, key = query_page(request, limit, start_key)
    return [Availability.from_item(item) for item in items], key and encode_key(key)


@translate_errors
def search(
    caller: str,
    cohort: str,
    start: datetime,
    end: datetime | None,
    limit: int,
    start_token: str | None,
) -> tuple[list[Availability], str | None]:
    """Others' availabilities starting in [start, end] that admit `cohort`, in time order."""
    low, high = format_time(start), end and format_time(end)
    start_key = start_token and decode_key(
        start_token,
        shapes=({"status", "startTime", "owner", "id"},),
        fixed={"status": SCHEDULED},
    )
    if start_key and not _within(start_key["startTime"], low, high):
        raise BadRequest("startKey is not valid for this query", detail=f"startKey {start_key}")
    values = {":status": SCHEDULED, ":low": low, ":caller": caller, ":all": ALL_COHORTS}
    admitted = "contains(#cohorts, :all)"
    if cohort:  # a player who has not picked a cohort yet sees only ALL_COHORTS
        values[":cohort"] = cohort
        admitted += " OR contains(#cohorts, :cohort)"
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
    items, key = query_page(request, limit, start_key)
    return [Availability.from_item(item) for item in items], key and encode_key(key)


def _within(value: str, low: str, high: str | None) -> bool:
    try:
        instant = format_time(parse_time(value))
    except ValueError:
        return False
    # Stored times are fixed-width UTC, so string order is time order.
    return instant == value and low <= instant and (high is None or instant <= high)


@translate_errors
def book(availability: Availability, meeting: Meeting) -> None:
    """Turns the availability into the meeting in one transaction: the availability must still
    be the one the booking was checked against, and its id must not be a meeting yet."""
    checked = to_item(
        {
            ":start": format_time(availability.startTime),
            ":end": format_time(availability.endTime),
            ":types": list(availability.types),
            ":cohorts": list(availability.cohorts),
        }
    )
    stored_meeting = {
        **meeting.to_json(),
        "expirationTime": expiration(meeting.startTime),
    }
    try:
        dynamodb().transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": AVAILABILITIES_TABLE,
                        "Key": to_item({"owner": availability.owner, "id": availability.id}),
                        "ConditionExpression": "attribute_exists(id) AND #start = :start AND "
                        "#end = :end AND #types = :types AND #cohorts = :cohorts",
                        "ExpressionAttributeNames": {
                            "#start": "startTime",
                            "#end": "endTime",
                            "#types": "types",
                            "#cohorts": "cohorts",
                        },
                        "ExpressionAttributeValues": checked,
                    }
                },
                {
                    "Put": {
                        "TableName": MEETINGS_TABLE,
                        "Item": to_item(stored_meeting),
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
            ]
        )
    except ClientError as error:
        if _cancelled_by_condition(error, index=0):
            raise NotFound(BOOKED_OR_MISSING) from error
        if _cancelled_by_condition(error, index=1):
            raise Conflict("This availability has already been booked") from error
        if error_code(error) == "TransactionConflictException" or _cancelled_by(
            error, "TransactionConflict"
        ):
            raise Conflict("This availability is being booked by someone else") from error
        raise


def _cancelled_by(error: ClientError, reason: str, index: int | None = None) -> bool:
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    if index is None:
        return reason in reasons
    return len(reasons) > index and reasons[index] == reason


def _cancelled_by_condition(error: ClientError, index: int) -> bool:
    return _cancelled_by(error, "ConditionalCheckFailed", index)
