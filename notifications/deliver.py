"""What the notify function does with each change: which actions it means
(notifications/changes.py), each done at most once (database/notifications.py's claims) through
Discord's REST API (notifications/discord.py), and the order a batch's records are done in.
"""

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from api.log import logger
from database import notifications as store
from database.client import AVAILABILITIES_TABLE, MEETINGS_TABLE, from_item
from database.settings import text, url
from notifications.changes import (
    Action,
    Announce,
    DirectMessage,
    EditAnnouncement,
    Unannounce,
    availability_changes,
    meeting_changes,
)
from notifications.discord import DEFAULT_BASE_URL, Discord, DiscordRejected, MaybeDelivered

# A record is not started with less time left than one slow Discord call may take (3 attempts
# of up to 3 s connect + 10 s read, and up to 10 s rate-limit waits between them, after reading
# the bot token: api/secrets.py's SECRET_SECONDS); it fails instead and is retried.
RESERVE_MS = 65_000

# The user setting that turns each kind of direct message off.
OPT_OUTS = {
    "booking": "disableBookingNotifications",
    "cancellation": "disableCancellationNotifications",
}


@dataclass
class Settings:
    """The stage's Discord settings (serverless.yml passes them as environment variables), read
    once per container: at the notify function's cold start."""

    # The Secrets Manager secret holding the bot token (api/secrets.py); empty: notifications
    # are off. The token itself is never in the environment.
    secret_name: str
    guild_id: str  # the club's server, whose members get direct messages
    channel_id: str  # where new availabilities are announced (empty: no announcements)
    frontend: str  # the site's address, for links
    # Discord's API, or a local stand-in for trying it without the real one (DISCORD_API_URL).
    api_url: str = DEFAULT_BASE_URL

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            secret_name=text(environ, "DISCORD_SECRET_NAME"),
            guild_id=text(environ, "DISCORD_GUILD_ID"),
            channel_id=text(environ, "DISCORD_CHANNEL_ID"),
            frontend=url(environ, "FRONTEND_HOST"),
            api_url=url(environ, "DISCORD_API_URL", DEFAULT_BASE_URL),
        )


class InOrder:
    """Handles one batch's records in order; after a failure, fails the rest unprocessed."""

    def __init__(self, context: Any, notify: Callable[[DynamoDBRecord], None]) -> None:
        self.context = context
        self.notify = notify
        self.failed = False

    def handle(self, record: DynamoDBRecord) -> None:
        if self.failed:
            raise RuntimeError("an earlier record of this batch failed; retried after it")
        remaining = getattr(self.context, "get_remaining_time_in_millis", None)
        if remaining is not None and remaining() < RESERVE_MS:
            self.failed = True
            raise RuntimeError("not enough time left for this record; retried later")
        try:
            self.notify(record)
        except Exception:
            self.failed = True
            logger.exception(
                "Change failed; the stream retries it",
                extra={"eventID": record.event_id, "eventSourceARN": record.event_source_arn},
            )
            raise


class Notifier:
    """Does what each change of the tables means on Discord, at most once per change."""

    def __init__(self, settings: Settings, discord: Discord) -> None:
        self.settings = settings
        self.discord = discord

    def notify(self, record: DynamoDBRecord) -> None:
        change = record.raw_event["dynamodb"]
        old = from_item(change["OldImage"]) if "OldImage" in change else None
        new = from_item(change["NewImage"]) if "NewImage" in change else None
        table = _table_name(record.event_source_arn or "")
        if table == AVAILABILITIES_TABLE:
            actions = availability_changes(old, new, self.settings.frontend, _profile_names())
        elif table == MEETINGS_TABLE:
            actions = meeting_changes(old, new, self.settings.frontend)
        else:
            logger.warning("Change of an unknown table ignored", extra={"table": table})
            return
        for action in actions:
            self.perform(action, store.claim_key(record.event_id or "", action.key))

    def perform(self, action: Action, key: str) -> None:
        try:
            if isinstance(action, DirectMessage):
                self.direct_message(action, key)
            elif isinstance(action, Announce):
                self.announce(action, key)
            elif isinstance(action, EditAnnouncement):
                self.edit_announcement(action)
            elif isinstance(action, Unannounce):
                self.unannounce(action)
        except DiscordRejected:
            # A 4xx (no access, unknown channel...) would be the same on every retry.
            logger.exception("Discord refused a request; not retried", extra={"claim": key})

    def direct_message(self, action: DirectMessage, key: str) -> None:
        log = {"recipient": action.recipient, "kind": action.key, "claim": key}
        user = store.recipient(action.recipient)
        if user is None:
            logger.info("No direct message: no such user", extra=log)
            return
        if user.get(OPT_OUTS[action.setting]):
            logger.info(f"No direct message: {action.setting} notifications disabled", extra=log)
            return
        name = (user.get("discordUsername") or "").strip()
        if not name:
            logger.info("No direct message: no Discord username", extra=log)
            return
        if not self.settings.guild_id:
            logger.info("No direct message: no Discord server configured", extra=log)
            return
        member = self.discord.find_member(self.settings.guild_id, name)
        if member is None:
            logger.info("No direct message: not a member of the club's server", extra=log)
            return
        channel = self.discord.open_direct_message(member)
        self._send_once(key, channel, action.text, log)

    def announce(self, action: Announce, key: str) -> None:
        if not self.settings.channel_id:
            return
        log = {"owner": action.owner, "availability": action.availability_id, "claim": key}
        message_id = self._send_once(key, self.settings.channel_id, action.text, log, finish=False)
        if message_id is not None:
            store.save_announcement(
                key,
                action.owner,
                action.availability_id,
                self.settings.channel_id,
                message_id,
                action.expires,
            )

    def edit_announcement(self, action: EditAnnouncement) -> None:
        post = store.announcement(action.owner, action.availability_id)
        if post and not self.discord.edit(post["channelId"], post["messageId"], action.text):
            store.forget_announcement(action.owner, action.availability_id, post["messageId"])

    def unannounce(self, action: Unannounce) -> None:
        post = store.announcement(action.owner, action.availability_id)
        if post:
            self.discord.delete(post["channelId"], post["messageId"])
            store.forget_announcement(action.owner, action.availability_id, post["messageId"])

    def _send_once(
        self, key: str, channel: str, text: str, log: dict, finish: bool = True
    ) -> str | None:
        """Posts `text` unless this side effect was claimed before; the message id, or None."""
        if not store.claim(key):
            logger.info(
                "Already done for this change (redelivered)",
                extra={**log, "state": store.claim_state(key)},
            )
            return None
        try:
            message_id = self.discord.send(channel, text)
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


def _profile_names() -> Callable[[str], str]:
    """Names players as their stored profiles do (the Discord username, else the username),
    each profile read at most once per change: never a name a request body chose."""

    @functools.cache
    def name(username: str) -> str:
        profile = store.recipient(username) or {}
        return (profile.get("discordUsername") or "").strip() or username

    return name


def _table_name(stream_arn: str) -> str:
    """arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> -> <name>."""
    return stream_arn.partition(":table/")[2].partition("/")[0]
