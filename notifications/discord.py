"""The few Discord REST calls notifications need (API v10), over `requests`.

Failures come in three kinds, because the caller must know whether a message may have gone out:
- `DiscordUnavailable`: nothing was done (5xx after retries, a 429 asking to wait longer than
  the budget, no connection). Worth retrying later: the stream record fails and is redelivered.
- `DiscordRejected`: a 4xx Discord will repeat (no access to the channel, the user does not
  accept direct messages...). Retrying cannot help.
- `MaybeDelivered`: the request went out and no answer came back (read timeout, connection
  reset). A message may exist: resending could post it twice.

Rate limits: a 429 carries `retry_after` (seconds, in the JSON body and the Retry-After
header); the call is retried after that long, if it is within `max_wait`.
"""

import time
from collections.abc import Callable
from typing import Any

import requests

DEFAULT_BASE_URL = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://www.chessdojo.club, 2.0)"
UNKNOWN_MESSAGE = 10008  # Discord's JSON error code: the message was already deleted
# Message flag: no link previews, so a link a player wrote shows no card in the bot's message.
SUPPRESS_EMBEDS = 1 << 2
# Every message: no mention pings anyone (not @everyone, @here, roles or users), no previews.
_QUIET = {"allowed_mentions": {"parse": []}, "flags": SUPPRESS_EMBEDS}


class DiscordError(Exception):
    pass


class DiscordUnavailable(DiscordError):
    pass


class DiscordRejected(DiscordError):
    pass


class MaybeDelivered(DiscordError):
    pass


class Discord:
    def __init__(
        self,
        token: str | Callable[[], str],
        base_url: str = DEFAULT_BASE_URL,
        *,
        attempts: int = 3,
        max_wait: float = 10.0,
        timeout: tuple[float, float] = (3.05, 10.0),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.max_wait = max_wait
        self.timeout = timeout
        self.sleep = sleep
        self.session = requests.Session()
        # The bot token, or what reads it (the stage's secret, cached) before each call.
        self.token = token if callable(token) else lambda: token
        self.session.headers.update({"User-Agent": USER_AGENT})

    def find_member(self, guild_id: str, discord_username: str) -> str | None:
        """The user id of the guild member called `discord_username` (a username, or a legacy
        `name#1234` tag), or None. Discord's search matches name prefixes; only an exact
        username (case-insensitive) counts."""
        name, _, discriminator = discord_username.strip().partition("#")
        members = self._call(
            "GET",
            f"/guilds/{guild_id}/members/search",
            params={"query": name, "limit": 100},
        ).json()
        for member in members:
            user = member.get("user") or {}
            if user.get("username", "").lower() != name.lower():
                continue
            if discriminator and user.get("discriminator") not in (discriminator, "0", None):
                continue
            return user["id"]
        return None

    def open_direct_message(self, user_id: str) -> str:
        """The id of the DM channel with `user_id` (Discord returns the existing one)."""
        return self._call("POST", "/users/@me/channels", json={"recipient_id": user_id}).json()[
            "id"
        ]

    def send(self, channel_id: str, content: str, nonce: str | None = None) -> str:
        """Posts `content` (no mentions pinged, no link previews) and returns the message id.
        With a `nonce` (at most 25 characters) Discord posts a message once whatever the
        resends (`enforce_nonce`: a resend within minutes returns the first message)."""
        body: dict[str, Any] = {"content": content[:2000], **_QUIET}
        if nonce is not None:
            body.update(nonce=nonce, enforce_nonce=True)
        response = self._call("POST", f"/channels/{channel_id}/messages", json=body, creates=True)
        return response.json()["id"]

    def edit(self, channel_id: str, message_id: str, content: str) -> bool:
        """Replaces a message's text; False when the message no longer exists."""
        body = {"content": content[:2000], **_QUIET}
        try:
            self._call("PATCH", f"/channels/{channel_id}/messages/{message_id}", json=body)
        except DiscordRejected as error:
            if _gone(error):
                return False
            raise
        return True

    def delete(self, channel_id: str, message_id: str) -> None:
        """Deletes a message; one already gone is fine (a redelivered change deletes twice)."""
        try:
            self._call("DELETE", f"/channels/{channel_id}/messages/{message_id}")
        except DiscordRejected as error:
            if not _gone(error):
                raise

    def _call(self, method: str, path: str, *, creates: bool = False, **kwargs: Any):
        """One API call with bounded retries of 429 and 5xx. `creates`: the call is not
        idempotent, so an unanswered request is MaybeDelivered, not retried."""
        url = self.base_url + path
        try:
            headers = {"Authorization": f"Bot {self.token()}"}
        except Exception as error:  # the secret unreadable: nothing was sent, retry later
            raise DiscordUnavailable(f"{method} {path}: no bot token: {error}") from error
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(
                    method, url, headers=headers, timeout=self.timeout, **kwargs
                )
            except requests.ConnectTimeout as error:  # never connected: nothing was sent
                problem = f"{method} {path}: {error}"
                if attempt == self.attempts:
                    raise DiscordUnavailable(problem) from error
                self.sleep(_backoff(attempt))
                continue
            except requests.RequestException as error:
                if creates:
                    raise MaybeDelivered(f"{method} {path}: {error}") from error
                if attempt == self.attempts:
                    raise DiscordUnavailable(f"{method} {path}: {error}") from error
                self.sleep(_backoff(attempt))
                continue

            if response.ok:
                return response
            problem = f"{method} {path}: HTTP {response.status_code} {response.text[:300]}"
            if response.status_code == 429:
                wait = _retry_after(response)
                if wait > self.max_wait or attempt == self.attempts:
                    raise DiscordUnavailable(f"{problem} (retry after {wait} s)")
                self.sleep(wait)
            elif response.status_code >= 500:
                if attempt == self.attempts:
                    raise DiscordUnavailable(problem)
                self.sleep(_backoff(attempt))
            else:
                raise DiscordRejected(problem, response.status_code, _json_code(response))
        raise AssertionError("unreachable")


def _backoff(attempt: int) -> float:
    return 0.5 * 2 ** (attempt - 1)


def _retry_after(response: requests.Response) -> float:
    try:
        return float(response.json()["retry_after"])
    except (ValueError, KeyError, TypeError):
        return float(response.headers.get("Retry-After", 1))


def _json_code(response: requests.Response) -> int | None:
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None


def _gone(error: DiscordRejected) -> bool:
    _, status, code = error.args
    return status == 404 and code in (UNKNOWN_MESSAGE, None)
