"""notify: Discord messages for the changes of the availabilities and meetings tables.

Invoked by the tables' DynamoDB Streams (NEW_AND_OLD_IMAGES), never by the API: a booking is
answered before and whatever happens here. Each record's images become actions
(notifications/changes.py); each action is done at most once (database/notifications.py's
claims) through Discord's REST API (notifications/discord.py).

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
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from api.log import logger
from database import notifications as store
from database.client import AVAILABILITIES_TABLE, MEETINGS_TABLE, from_item
from notifications.changes import (
    Action,
    Announce,
    DirectMessage,
    EditAnnouncement,
    Unannounce,
    availability_changes,
    meeting_changes,
)
from notifications.discord import (
    DEFAULT_BASE_URL,
    Discord,
    DiscordRejected,
    MaybeDelivered,
)

TOKEN = os.environ.get("DISCORD_AUTH", "")
GUILD_ID = os.environ.get("DISCORD_GUILD_ID", "")
CHANNEL_ID = os.environ.get("DISCORD_CHANNEL_ID", "")
FRONTEND = os.environ.get("FRONTEND_HOST", "").rstrip("/")
# Another base URL (a local stand-in for Discord) for trying it without the real one.
BASE_URL = os.environ.get("DISCORD_API_URL") or DEFAULT_BASE_URL
# A record is not started with less time left than one slow Discord call may take (3 attempts
# of up to 3 s connect + 10 s read, and up to 10 s rate-limit waits between them); it fails
# instead and is retried.
RESERVE_MS = 60_000

SETTINGS = {
    "booking": "disableBookingNotifications",
    "cancellation": "disableCancellationNotifications",
}

discord = Discord(TOKEN, BASE_URL)
# Partial failures are reported, never raised: with ReportBatchItemFailures, Lambda retries
# from the first failed record either way (bisecting applies to crashes and timeouts).
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def handler(event: dict, context: Any) -> dict:
    if not TOKEN:
        logger.info("Discord notifications are off (no DISCORD_AUTH)")
        return {"batchItemFailures": []}
    batch = _InOrder(context)
    return process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )


class _InOrder:
    """Handles one batch's records in order; after a failure, fails the rest unprocessed."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.failed = False

    def handle(self, record: DynamoDBRecord) -> None:
        if self.failed:
            raise RuntimeError("an earlier record of this batch failed; retried after it")
        remaining = getattr(self.context, "get_remaining_time_in_millis", None)
        if remaining is not None and remaining() < RESERVE_MS:
            self.failed = True
            raise RuntimeError("not enough time left for this record; retried later")
        try:
            notify(record)
        except Exception:
            self.failed = True
            logger.exception(
                "Change failed; the stream retries it",
                extra={"eventID": record.event_id, "eventSourceARN": record.event_source_arn},
            )
            raise


def notify(record: DynamoDBRecord) -> None:
    change = record.raw_event["dynamodb"]
    old = from_item(change["OldImage"]) if "OldImage" in change else None
    new = from_item(change["NewImage"]) if "NewImage" in change else None
    table = _table_name(record.event_source_arn or "")
    if table == AVAILABILITIES_TABLE:
        actions = availability_changes(old, new, FRONTEND)
    elif table == MEETINGS_TABLE:
        actions = meeting_changes(old, new, FRONTEND)
    else:
        logger.warning("Change of an unknown table ignored", extra={"table": table})
        return
    for action in actions:
        perform(action, store.claim_key(record.event_id or "", action.key))


def perform(action: Action, key: str) -> None:
    try:
        if isinstance(action, DirectMessage):
            direct_message(action, key)
        elif isinstance(action, Announce):
            announce(action, key)
        elif isinstance(action, EditAnnouncement):
            edit_announcement(action)
        elif isinstance(action, Unannounce):
            unannounce(action)
    except DiscordRejected:
        # A 4xx (no access, unknown channel...) would be the same on every retry.
        logger.exception("Discord refused a request; not retried", extra={"claim": key})


def direct_message(action: DirectMessage, key: str) -> None:
    log = {"recipient": action.recipient, "kind": action.key, "claim": key}
    user = store.recipient(action.recipient)
    if user is None:
        logger.info("No direct message: no such user", extra=log)
        return
    if user.get(SETTINGS[action.setting]):
        logger.info(f"No direct message: {action.setting} notifications disabled", extra=log)
        return
    name = (user.get("discordUsername") or "").strip()
    if not name:
        logger.info("No direct message: no Discord username", extra=log)
        return
    if not GUILD_ID:
        logger.info("No direct message: no Discord server configured", extra=log)
        return
    member = discord.find_member(GUILD_ID, name)
    if member is None:
        logger.info("No direct message: not a member of the club's server", extra=log)
        return
    channel = discord.open_direct_message(member)
    _send_once(key, channel, action.text, log)


def announce(action: Announce, key: str) -> None:
    if not CHANNEL_ID:
        return
    log = {"owner": action.owner, "availability": action.availability_id, "claim": key}
    message_id = _send_once(key, CHANNEL_ID, action.text, log, finish=False)
    if message_id is not None:
        store.save_announcement(
            key, action.owner, action.availability_id, CHANNEL_ID, message_id, action.expires
        )


def edit_announcement(action: EditAnnouncement) -> None:
    post = store.announcement(action.owner, action.availability_id)
    if post and not discord.edit(post["channelId"], post["messageId"], action.text):
        store.forget_announcement(action.owner, action.availability_id, post["messageId"])


def unannounce(action: Unannounce) -> None:
    post = store.announcement(action.owner, action.availability_id)
    if post:
        discord.delete(post["channelId"], post["messageId"])
        store.forget_announcement(action.owner, action.availability_id, post["messageId"])


def _send_once(key: str, channel: str, text: str, log: dict, finish: bool = True) -> str | None:
    """Posts `text` unless this side effect was claimed before; the message id, or None."""
    if not store.claim(key):
        logger.info(
            "Already done for this change (redelivered)",
            extra={**log, "state": store.claim_state(key)},
        )
        return None
    try:
        message_id = discord.send(channel, text)
    except MaybeDelivered:
        # The claim stays SENDING: a resend could post twice, so this one may be lost.
        logger.exception("Discord did not answer a sent message; not resent", extra=log)
        return None
    except DiscordRejected:
        store.finish(key, store.REJECTED)
        logger.exception("Discord refused the message", extra=log)
        return None
    except BaseException:
        store.release(key)  # not delivered: the retry of this record sends it
        raise
    if finish:
        store.finish(key, store.SENT)
    logger.info("Discord message sent", extra={**log, "messageId": message_id})
    return message_id


def _table_name(stream_arn: str) -> str:
    """arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> -> <name>."""
    return stream_arn.partition(":table/")[2].partition("/")[0]
