"""notify: Discord messages for the changes of the availabilities and meetings tables.

Invoked by the tables' DynamoDB Streams (NEW_AND_OLD_IMAGES), never by the API: a booking is
answered before and whatever happens here. notifications/deliver.py does each record: its
actions, each at most once, through Discord's REST API.

A record that fails (Discord down, rate limited beyond the wait budget, DynamoDB error) is
reported in `batchItemFailures`, and so is every record after it: Lambda retries from the first
failed record, so an availability's changes are done in order (its announcement is never posted
after it was deleted). After the event source mapping's retries the batch goes to the
dead-letter queue. With no bot token (DISCORD_AUTH empty) the function does nothing.
"""

import os
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from api.log import logger
from notifications.deliver import InOrder, Notifier, Settings
from notifications.discord import DEFAULT_BASE_URL, Discord

settings = Settings.from_environment()
# Another base URL (a local stand-in for Discord) for trying it without the real one.
notifier = Notifier(
    settings, Discord(settings.token, os.environ.get("DISCORD_API_URL") or DEFAULT_BASE_URL)
)
# Partial failures are reported, never raised: with ReportBatchItemFailures, Lambda retries
# from the first failed record either way (bisecting applies to crashes and timeouts).
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def handler(event: dict, context: Any) -> dict:
    if not notifier.settings.token:
        logger.info("Discord notifications are off (no DISCORD_AUTH)")
        return {"batchItemFailures": []}
    batch = InOrder(context, notifier.notify)
    return process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )
