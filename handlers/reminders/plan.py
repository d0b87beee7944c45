"""planReminders: stores the reminders a change of the meetings or availabilities table owes
(contract v4, "Reminders"), from the tables' DynamoDB Streams (NEW_AND_OLD_IMAGES): booking,
joining and rescheduling stay as they were, one transaction each, and this runs after them.

notifications/reminders.py says which members a change puts in a meeting or session; each
gets one reminder per value of their `reminderMinutes` due after the change (the booking, or
the seat taken): none already late. database/reminders.py writes each once (keyed by meeting,
start, member and minutes), so a batch delivered again writes nothing twice. A record that
fails (DynamoDB error) is reported in `batchItemFailures` and retried; then the dead-letter
queue, which alarms.
"""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from api.log import logger
from database import reminders as store
from database.client import AVAILABILITIES_TABLE, MEETINGS_TABLE, from_item
from database.times import expiration, parse_stored
from notifications.reminders import due_times, meeting_places, reminder_item, session_places

processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def plan(record: DynamoDBRecord) -> None:
    change = record.raw_event["dynamodb"]
    old = from_item(change["OldImage"]) if "OldImage" in change else None
    new = from_item(change["NewImage"]) if "NewImage" in change else None
    table = _table_name(record.event_source_arn or "")
    if table == MEETINGS_TABLE:
        places = meeting_places(old, new)
    elif table == AVAILABILITIES_TABLE:
        places = session_places(old, new)
    else:
        logger.warning("Change of an unknown table ignored", extra={"table": table})
        return
    if not places:
        return
    # When the change was made (the booking, the seat taken): a reminder due before is late.
    since = datetime.fromtimestamp(float(change["ApproximateCreationDateTime"]), UTC)
    minutes = store.reminder_minutes({place.member for place in places})
    written = 0
    for place in places:
        expires = expiration(parse_stored(place.start))
        for value, due in due_times(place, minutes.get(place.member, []), since):
            written += store.plan(reminder_item(place, value, due, expires))
    logger.info(
        "Reminders planned",
        extra={"eventID": record.event_id, "places": len(places), "written": written},
    )


def _table_name(stream_arn: str) -> str:
    """arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> -> <name>."""
    return stream_arn.partition(":table/")[2].partition("/")[0]


def handler(event: dict, context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=plan, processor=processor, context=context
    )
