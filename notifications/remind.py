"""What sendReminders does with each reminder that is due: re-check it against the meeting as
it is now, then send it on each channel the member has (a Discord direct message, an email),
each channel claimed before its send (database/reminders.py), so that of duplicate or
concurrent runs exactly one sends it.

A send that certainly failed (Discord or SES unavailable, throttled, timed out) releases its
claim and the reminder stays due: the next run (a minute later) tries again, until the start.
Discord message creation carries a nonce with `enforce_nonce`, so a resend of a message whose
answer was lost is not posted twice. A refusal (no such member, a bad address) is final. A
reminder still unsent at the start is dropped and counted (the RemindersDropped metric).
"""

import contextvars
import hashlib
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from api.log import logger
from database import reminders as store
from database.settings import text, url
from database.times import parse_stored
from notifications import mail
from notifications.changes import plain
from notifications.discord import (
    DEFAULT_BASE_URL,
    Discord,
    DiscordRejected,
    DiscordUnavailable,
    MaybeDelivered,
)
from notifications.reminders import MEETING, Text, reminder_text, still_owed

# How far back a run looks for reminders still due: a run that was missed (or failed) is
# caught up by the next ones. A reminder some channel still owes is put due again (`retry`), so
# one that keeps failing stays inside this window until its meeting starts.
CATCH_UP = timedelta(hours=2)
RETRY_AFTER = timedelta(minutes=1)  # the next run
# A claim older than this is a dead run's (the function's timeout is 120 s): taken over.
LEASE_SECONDS = 300
# Reminders sent at once: a slow Discord or SES holds one worker, never the others.
WORKERS = 8


@dataclass
class Settings:
    """The stage's Discord settings, as notify's (serverless.yml passes them)."""

    secret_name: str  # empty: no Discord reminders
    guild_id: str
    api_url: str = DEFAULT_BASE_URL

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            secret_name=text(environ, "DISCORD_SECRET_NAME"),
            guild_id=text(environ, "DISCORD_GUILD_ID"),
            api_url=url(environ, "DISCORD_API_URL", DEFAULT_BASE_URL),
        )


@dataclass
class Run:
    """What one run did (its answer, and the log line)."""

    due: int = 0
    sent: int = 0
    retried: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    late: int = 0  # dropped at the start, unsent: the RemindersDropped metric
    deferred: int = 0  # not started: the run's time ran out

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "sent": self.sent,
            "retried": self.retried,
            "dropped": dict(sorted(self.dropped.items())),
            "late": self.late,
            "deferred": self.deferred,
        }


class Reminders:
    def __init__(self, settings: Settings, discord: Discord | None) -> None:
        self.settings = settings
        self.discord = discord

    def run(self, at: datetime, time_left: Callable[[], bool] = lambda: True) -> Run:
        """Sends every reminder due by `at` (the scheduled event's time). `time_left`: whether
        the invocation may still start one (the rest waits for the next run)."""
        done = Run()
        due = list(store.due(at, CATCH_UP))
        done.due = len(due)

        def one(reminder: dict) -> str:
            if not time_left():
                return "deferred"
            try:
                return self.remind(reminder, at)
            except Exception:  # DynamoDB failing: this one waits for the next run
                logger.exception("Reminder failed; tried again next run", reminder=reminder["id"])
                return "retry"

        with ThreadPoolExecutor(WORKERS, thread_name_prefix="reminder") as pool:
            # Each in this run's context (what contextvars hold: the tests' IAM role).
            outcomes = list(pool.map(lambda r: contextvars.copy_context().run(one, r), due))
        for outcome in outcomes:
            if outcome == "sent":
                done.sent += 1
            elif outcome == "retry":
                done.retried += 1
            elif outcome == "deferred":
                done.deferred += 1
            elif outcome == "late":
                done.late += 1
            elif outcome != "busy":
                done.dropped[outcome] = done.dropped.get(outcome, 0) + 1
        return done

    def remind(self, reminder: dict, at: datetime) -> str:
        """Sends one reminder on each of its member's channels, at most once each; what became
        of it: sent, retry (some channel failed for now), busy (another run has it), late, or
        why it is no longer owed."""
        log = {"reminder": reminder["id"], "member": reminder["member"]}
        current = store.current_meeting(reminder["kind"], reminder["owner"], reminder["meetingId"])
        why = still_owed(reminder, current)
        if why is None and at >= parse_stored(reminder["startTime"]):
            why = "late"
        if why is not None:
            if not store.settle(reminder["id"], why):
                return "busy"  # another run settled it meanwhile
            if why == "late":
                logger.warning("Reminder dropped: unsent at the start", **log)
            else:
                logger.info("Reminder dropped", why=why, **log)
            return why
        assert current is not None
        other = _other_member(reminder, current)
        profiles = store.profiles({reminder["member"], *([other] if other else [])})
        profile = profiles.get(reminder["member"])
        if profile is None:
            store.settle(reminder["id"], "no user")
            return "no user"
        if reminder["minutes"] not in profile.get("reminderMinutes", [60]):
            store.settle(reminder["id"], "unsubscribed")  # the member took that value off
            return "unsubscribed"

        def name(username: str) -> str:
            found = profiles.get(username) or {}
            return (found.get("discordUsername") or "").strip() or username

        zone_name = profile.get("timezone") or "UTC"
        message = reminder_text(reminder, current, zone_name, name)
        on_discord = reminder_text(reminder, current, zone_name, name, shown=plain)
        outcomes = [
            self.send_once(reminder, channel, send, at, log)
            for channel, send in self.channels(profile, message, on_discord, reminder, current, at)
        ]
        if "retry" in outcomes or "busy" in outcomes:
            store.retry(reminder["id"], at + RETRY_AFTER)
            return "retry" if "retry" in outcomes else "busy"
        store.settle(reminder["id"], "sent")
        return "sent"

    def channels(
        self,
        profile: dict,
        message: Text,
        on_discord: Text,
        reminder: dict,
        current: dict,
        at: datetime,
    ) -> list[tuple[str, Callable[[str], None]]]:
        """(channel, send) for each way this member is reminded: Discord where they have a
        Discord name and the stage a bot; email where the stage has mail, unless disabled."""
        found: list[tuple[str, Callable[[str], None]]] = []
        discord_name = (profile.get("discordUsername") or "").strip()
        if self.discord is not None and self.settings.guild_id and discord_name:

            def direct_message(nonce: str) -> None:
                assert self.discord is not None
                member = self.discord.find_member(self.settings.guild_id, discord_name)
                if member is None:
                    raise DiscordRejected("not a member of the club's server", 404, None)
                channel = self.discord.open_direct_message(member)
                self.discord.send(channel, on_discord.body, nonce=nonce)

            found.append((store.DISCORD, direct_message))
        address = (profile.get("email") or "").strip()
        if mail.mail_enabled() and address and not profile.get("disableReminderEmails"):

            def email(_nonce: str) -> None:
                event = calendar_file(reminder, current, at)
                mail.send_mail(address, message.subject, message.body, event)

            found.append((store.EMAIL, email))
        return found

    def send_once(
        self, reminder: dict, channel: str, send: Callable[[str], None], at: datetime, log: dict
    ) -> str:
        """Claims, sends and records one channel's send: done, retry or busy."""
        if reminder.get(f"{channel}State") in (store.SENT, store.REJECTED):
            return "done"
        claimed_at = int(at.timestamp())
        if not store.claim(reminder["id"], channel, claimed_at, LEASE_SECONDS):
            return "busy"  # another run holds it (or finished it: the index lags)
        log = {**log, "channel": channel}
        try:
            send(_nonce(reminder["id"], channel))
        except (DiscordUnavailable, MaybeDelivered, mail.MailUnavailable) as error:
            store.release(reminder["id"], channel, claimed_at)
            logger.warning("Reminder not sent; tried again next run", error=str(error), **log)
            return "retry"
        except (DiscordRejected, mail.MailRejected) as error:
            store.finish(reminder["id"], channel, store.REJECTED, claimed_at)
            logger.warning("Reminder refused; not tried again", error=str(error), **log)
            return "done"
        except BaseException:
            store.release(reminder["id"], channel, claimed_at)
            raise
        store.finish(reminder["id"], channel, store.SENT, claimed_at)
        logger.info("Reminder sent", **log)
        return "done"


def calendar_file(reminder: dict, current: dict, at: datetime) -> mail.Attachment:
    """The meeting as an .ics file: the calendar feed's own VEVENT (feeds/ics.py), alone in a
    METHOD:PUBLISH calendar, so a mail client adds or updates the same event the feed shows."""
    from feeds.ics import feed  # icalendar: loaded only when a mail is sent

    if reminder["kind"] == MEETING:
        data = feed([current], [], reminder["member"], at)
    else:
        data = feed([], [current], reminder["member"], at)
    return mail.Attachment("meeting.ics", "text/calendar; charset=utf-8; method=PUBLISH", data)


def _other_member(reminder: dict, current: dict) -> str | None:
    if reminder["kind"] == MEETING:
        return (
            current["participant"] if reminder["member"] == current["owner"] else current["owner"]
        )
    return current["owner"] if reminder["member"] != current["owner"] else None


def _nonce(reminder_id: str, channel: str) -> str:
    """Discord's message nonce (at most 25 characters): the same for every attempt of one
    reminder, so Discord posts it once whatever the retries (`enforce_nonce`)."""
    return hashlib.sha256(f"{reminder_id}#{channel}".encode()).hexdigest()[:25]
