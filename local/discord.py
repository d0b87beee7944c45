"""A stand-in for Discord's REST API under `/_local/discord`, for `make run`.

The notify function is pointed at it (DISCORD_API_URL) unless the developer gives a real bot
token (DISCORD_AUTH in the shell). It answers the calls notifications/discord.py makes, in the
shapes of Discord's API reference (v10): Search Guild Members (every name is a member of the
club's server, so every player with a Discord name is found), Create DM, and Create, Edit and
Delete Message (404 Unknown Message once deleted). It keeps what was sent (the latest
MAX_MESSAGES), for `GET /_local/discord`, and logs each message as one line in the terminal.
"""

import itertools
import logging
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from local.events import HttpRequest, HttpResponse, json_body, json_response
from local.serverless import Service
from local.standins import Context, Panel, Started

log = logging.getLogger("local")

PATH = "/_local/discord"
TOKEN = "local"
GUILD_ID = "100000000000000001"
CHANNEL_ID = "100000000000000002"  # the announcements channel
BOT = {"id": "100000000000000003", "username": "dojo-scheduler", "discriminator": "0", "bot": True}
# Discord's JSON error codes.
UNKNOWN_CHANNEL, UNKNOWN_MESSAGE, UNKNOWN_GUILD = 10003, 10008, 10004
INVALID_FORM = 50035

# The messages kept for GET /_local/discord (and for edits and deletions): the latest ones, so a
# stack left running all day does not grow with every notification. An older message is
# forgotten, and answers 404 Unknown Message, as one deleted would.
MAX_MESSAGES = 5000

SETTINGS = ("DISCORD_AUTH", "DISCORD_GUILD_ID", "DISCORD_CHANNEL_ID", "DISCORD_API_URL")


def settings(shell: Mapping[str, str], api_url: str) -> dict[str, str]:
    """The notify function's Discord settings: the developer's bot and server when the shell
    has DISCORD_AUTH (DISCORD_GUILD_ID, DISCORD_CHANNEL_ID, optionally DISCORD_API_URL), else
    this stand-in. FRONTEND_HOST (for the links) defaults to a frontend on localhost:3000."""
    frontend = {"FRONTEND_HOST": shell.get("FRONTEND_HOST") or "http://localhost:3000"}
    if shell.get("DISCORD_AUTH"):
        return {**{name: shell[name] for name in SETTINGS if shell.get(name)}, **frontend}
    return {
        "DISCORD_AUTH": TOKEN,
        "DISCORD_GUILD_ID": GUILD_ID,
        "DISCORD_CHANNEL_ID": CHANNEL_ID,
        "DISCORD_API_URL": api_url + PATH,
        **frontend,
    }


def keep_token_secret(service: Service, settings: dict[str, str]) -> dict[str, str]:
    """`settings` without the bot token, which goes where it is on AWS: the stage's Discord
    secret (in the embedded moto, local.aws.create_secret), read by the notify function under
    its role. No function's environment holds it."""
    from local import aws  # the stack's process only

    settings = dict(settings)
    token = settings.pop("DISCORD_AUTH")
    os.environ.pop("DISCORD_AUTH", None)  # the shell's, inherited by the functions otherwise
    aws.create_secret(service, "discord", {"discordAuth": token})
    return settings


class DiscordStandIn:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(200000000000000000)  # snowflakes, as strings on the wire
        self._users: dict[str, dict[str, Any]] = {}  # by lower-case username
        self._dm_channels: dict[str, dict[str, Any]] = {}  # by channel id
        self._messages: dict[str, dict[str, Any]] = {}  # by message id, in order sent
        self._nonces: dict[tuple[str, str], str] = {}  # (channel, nonce) -> message id

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.raw_path.removeprefix(PATH).rstrip("/")
        if path == "" and request.method == "GET":
            return json_response(200, self.sent())
        if request.header("authorization") != f"Bot {TOKEN}":
            return json_response(401, {"message": "401: Unauthorized", "code": 0})
        parts = path.strip("/").split("/")
        with self._lock:
            match request.method, parts:
                case "GET", ["guilds", guild, "members", "search"]:
                    query = parse_qs(request.raw_query).get("query", [""])[0]
                    return self._search(guild, query)
                case "POST", ["users", "@me", "channels"]:
                    return self._open_dm(_body(request).get("recipient_id"))
                case "POST", ["channels", channel, "messages"]:
                    return self._create(channel, _body(request))
                case "PATCH", ["channels", channel, "messages", message]:
                    return self._edit(channel, message, _body(request))
                case "DELETE", ["channels", channel, "messages", message]:
                    return self._delete(channel, message)
        return json_response(404, {"message": "404: Not Found", "code": 0})

    def sent(self) -> dict[str, list[dict[str, Any]]]:
        """What was sent: direct messages (to whom) and channel posts, deletions included."""
        with self._lock:
            messages = [dict(message) for message in self._messages.values()]
        direct, posts = [], []
        for message in messages:
            recipient = message.pop("recipient", None)
            if recipient:
                direct.append({"to": recipient["username"], **message})
            else:
                posts.append(message)
        return {"directMessages": direct, "channelPosts": posts}

    def _search(self, guild: str, query: str) -> HttpResponse:
        if guild != GUILD_ID:
            return json_response(404, {"message": "Unknown Guild", "code": UNKNOWN_GUILD})
        if not query:
            return json_response(200, [])
        user = self._users.setdefault(
            query.lower(),
            {
                "id": str(next(self._ids)),
                "username": query,
                "discriminator": "0",
                "global_name": None,
            },
        )
        member = {
            "user": user,
            "nick": None,
            "roles": [],
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "deaf": False,
            "mute": False,
        }
        return json_response(200, [member])

    def _open_dm(self, user_id: Any) -> HttpResponse:
        user = next((user for user in self._users.values() if user["id"] == user_id), None)
        if user is None:
            return json_response(400, {"message": "Invalid Form Body", "code": INVALID_FORM})
        for channel in self._dm_channels.values():
            if channel["recipients"][0]["id"] == user_id:
                return json_response(200, channel)  # Discord returns the existing DM channel
        channel = {"id": str(next(self._ids)), "type": 1, "recipients": [user]}
        self._dm_channels[channel["id"]] = channel
        return json_response(200, channel)

    def _create(self, channel_id: str, body: dict[str, Any]) -> HttpResponse:
        dm = self._dm_channels.get(channel_id)
        if dm is None and channel_id != CHANNEL_ID:
            return json_response(404, {"message": "Unknown Channel", "code": UNKNOWN_CHANNEL})
        nonce = body.get("nonce")
        if nonce is not None and (not isinstance(nonce, str | int) or len(str(nonce)) > 25):
            return json_response(400, {"message": "Invalid Form Body", "code": INVALID_FORM})
        if nonce is not None and body.get("enforce_nonce"):
            # Discord: a message of the same author with that nonce, created within minutes, is
            # returned instead of a new one (sendReminders' resends rely on it).
            earlier = self._nonces.get((channel_id, str(nonce)))
            if earlier is not None and earlier in self._messages:
                shown = self._messages[earlier]
                return json_response(200, {k: v for k, v in shown.items() if k != "recipient"})
        message = {
            "id": str(next(self._ids)),
            "channel_id": channel_id,
            "author": BOT,
            "content": str(body.get("content", "")),
            "timestamp": _now(),
            "edited_timestamp": None,
            "type": 0,
        }
        self._messages[message["id"]] = {**message, "recipient": dm and dm["recipients"][0]}
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = message["id"]
            if len(self._nonces) > MAX_MESSAGES:  # only those of messages still kept
                self._nonces = {k: v for k, v in self._nonces.items() if v in self._messages}
        while len(self._messages) > MAX_MESSAGES:
            del self._messages[next(iter(self._messages))]  # the oldest
        if dm:
            log.info("Discord DM to %s: %s", dm["recipients"][0]["username"], _line(message))
        else:
            log.info("Discord post %s in the channel: %s", message["id"], _line(message))
        return json_response(200, message)

    def _edit(self, channel_id: str, message_id: str, body: dict[str, Any]) -> HttpResponse:
        message = self._live(channel_id, message_id)
        if message is None:
            return json_response(404, {"message": "Unknown Message", "code": UNKNOWN_MESSAGE})
        message.update(content=str(body.get("content", "")), edited_timestamp=_now())
        log.info("Discord post %s edited: %s", message_id, _line(message))
        shown = {key: value for key, value in message.items() if key != "recipient"}
        return json_response(200, shown)

    def _delete(self, channel_id: str, message_id: str) -> HttpResponse:
        message = self._live(channel_id, message_id)
        if message is None:
            return json_response(404, {"message": "Unknown Message", "code": UNKNOWN_MESSAGE})
        message["deleted_at"] = _now()  # kept, so GET /_local/discord shows the deletion
        log.info("Discord post %s deleted", message_id)
        return HttpResponse(204, [], b"")

    def _live(self, channel_id: str, message_id: str) -> dict[str, Any] | None:
        message = self._messages.get(message_id)
        if message is None or message["channel_id"] != channel_id or "deleted_at" in message:
            return None
        return message


def _body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object sent; anything else (no body, not JSON, not an object) reads as {}."""
    body = json_body(request)
    return body if isinstance(body, dict) else {}


def _line(message: dict[str, Any]) -> str:
    return message["content"].replace("\n", " | ")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Discord:
    """Its plug (local/standins.py): always on; the real Discord when the shell has
    DISCORD_AUTH (the bot's token), else this stand-in."""

    name = "discord"
    feature = None
    panel = Panel(
        "Discord: messages sent",
        PATH,
        "Notifications go to the real Discord (DISCORD_AUTH is set).",
    )

    def requested(self) -> bool:
        return True

    def start(self, context: Context) -> Started:
        # Before any environment starts: the functions read their settings at import.
        environment = keep_token_secret(context.service, settings(context.shell, context.api_url))
        if context.shell.get("DISCORD_AUTH"):
            server = environment.get("DISCORD_GUILD_ID")
            line = f"notifications go to Discord (server {server})"
            return Started(banner=[("Discord", line)], environment=environment)
        return Started(
            routes={PATH: (DiscordStandIn().handle, "Discord stand-in")},
            banner=[("Discord", f"{context.api_url}{PATH} (what notifications sent; a stand-in)")],
            environment=environment,
        )


STAND_IN = Discord()
