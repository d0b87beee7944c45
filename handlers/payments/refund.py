"""refundPayments: makes the refunds the cancels and the webhook decided, off the request path.

Invoked by the payments table's stream (NEW_AND_OLD_IMAGES): a ledger record entering
REFUND_PENDING is a refund to make (payments.refunds.carry_out, once whatever the deliveries).
A record that fails (Stripe down, DynamoDB error) is reported in `batchItemFailures`; the event
source mapping retries it a bounded number of times, then sends the batch's coordinates to the
dead-letter queue, whose alarm tells an operator. The reconciliation (reconcilePayments) retries
a refund still pending later, so none is lost even then.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)

from api.log import logger
from database.payments import REFUND_PENDING
from payments import refunds

processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def refund_decided(record: DynamoDBRecord) -> str | None:
    """The Checkout Session whose refund this change decided, if it did."""
    change = record.dynamodb
    if change is None:  # a stream record always has one, though Powertools' type allows none
        return None
    new, old = (change.new_image or {}), (change.old_image or {})
    if new.get("status") == REFUND_PENDING and old.get("status") != REFUND_PENDING:
        return new["id"]
    return None


def handle(record: DynamoDBRecord) -> None:
    session = refund_decided(record)
    if session is not None:
        outcome = refunds.carry_out(session)
        logger.info("Refund", session=session, outcome=outcome)


def handler(event: dict, context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
