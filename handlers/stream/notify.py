"""notify: Discord messages for the changes of the availabilities and meetings tables.

Invoked by the tables' DynamoDB Streams (NEW_AND_OLD_IMAGES), never by the API: a booking is
answered before and whatever happens here. notifications/deliver.py does each record: its
actions, each at most once, through Discord's REST API.

A record that fails (Discord down, rate limited beyond the wait budget, DynamoDB error) is
reported in `batchItemFailures`, and so is every record after it: Lambda retries from the first
failed record, so an availability's changes are done in order (its announcement is never posted
after it was deleted). After the event source mapping's retries the batch goes to the
dead-letter queue. The bot token is read from the stage's secret (DISCORD_SECRET_NAME) before
each Discord call, cached for minutes; unreadable, the record fails and is retried. Without a
secret name the function does nothing.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from api.log import logger
from api.secrets import SecretUnavailable, stage_secret
from notifications.deliver import InOrder, Notifier, Settings
from notifications.discord import Discord

settings = Settings.from_environment()
# The token's key in the secret: the same name as in discord.yml, where it comes from.
TOKEN_KEY = "discordAuth"


def _token() -> str:
    token = stage_secret(settings.secret_name).get(TOKEN_KEY)
    if not token:  # as an unreadable secret: the record fails and is retried
        raise SecretUnavailable(f"secret {settings.secret_name} holds no {TOKEN_KEY}")
    return str(token)


notifier = Notifier(settings, Discord(_token, settings.api_url))
# Partial failures are reported, never raised: with ReportBatchItemFailures, Lambda retries
# from the first failed record either way (bisecting applies to crashes and timeouts).
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def handler(event: dict, context: Any) -> PartialItemFailureResponse:
    if not notifier.settings.secret_name:
        logger.info("Discord notifications are off (no DISCORD_SECRET_NAME)")
        return {"batchItemFailures": []}
    batch = InOrder(context, notifier.notify)
    return process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )
