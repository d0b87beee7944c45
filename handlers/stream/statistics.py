"""countStatistics: the admins' statistics, counted from the availabilities and meetings
tables' DynamoDB Streams (NEW_AND_OLD_IMAGES), never on a request's path.

counters/changes.py says what each change counts; database/statistics.py counts a record
exactly once (a claim per eventID, in the same transaction as the counts), so a batch that
Lambda delivers again after a partial failure, a crash or a timeout changes nothing twice. A
record that fails (DynamoDB error) is reported in `batchItemFailures`; after the event source
mapping's retries its coordinates go to the dead-letter queue, which alarms.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from api.log import logger
from counters.changes import availability_counts, meeting_counts
from database.client import AVAILABILITIES_TABLE, MEETINGS_TABLE, from_item
from database.statistics import TableLookups, count_once

processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)
lookups = TableLookups()
# DynamoDB's TTL deletes an expired item as this principal: an expiry is not a deletion.
TTL = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def count(record: DynamoDBRecord) -> None:
    change = record.raw_event["dynamodb"]
    old = from_item(change["OldImage"]) if "OldImage" in change else None
    new = from_item(change["NewImage"]) if "NewImage" in change else None
    if record.raw_event.get("userIdentity") == TTL:
        return
    table = _table_name(record.event_source_arn or "")
    if table == AVAILABILITIES_TABLE:
        counts = availability_counts(old, new, lookups)
    elif table == MEETINGS_TABLE:
        counts = meeting_counts(old, new, lookups)
    else:
        logger.warning("Change of an unknown table ignored", extra={"table": table})
        return
    if counts and not count_once(record.event_id or "", counts):
        logger.info("Record counted already", extra={"eventID": record.event_id})


def _table_name(stream_arn: str) -> str:
    """arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> -> <name>."""
    return stream_arn.partition(":table/")[2].partition("/")[0]


def handler(event: dict, context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=count, processor=processor, context=context
    )
