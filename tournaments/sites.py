"""A tournament URL the bot posts, read from its site's public API: Lichess
(GET /api/tournament/{id} for an arena, GET /api/swiss/{id} for a Swiss) or Chess.com's PubAPI
(GET /pub/tournament/{url-ID}), as the contract's tournament record.

Errors in the data layer's terms: a URL that is not one of those four kinds, or a tournament the
site does not have, is Invalid (400); the site unreachable, slow, failing or answering something
this code cannot read is Unavailable (503), and nothing is stored. One requests Session per
container (its connection pool), explicit timeouts, no retries: the bot can post again.
"""

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from database.errors import Invalid, Unavailable
from database.times import format_time, parse_time
from tournaments import settings

TIMEOUT = (3.05, 5)  # seconds to connect, to read: well within the function's timeout
LICHESS, CHESSCOM = "LICHESS", "CHESSCOM"
ARENA, SWISS = "ARENA", "SWISS"
TIME_CONTROLS = ("BLITZ", "RAPID", "CLASSICAL")

_LICHESS_ID = re.compile(r"[A-Za-z0-9]{8}")
_CHESSCOM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,199}")
_LICHESS_PATHS = {"tournament": ARENA, "swiss": SWISS}
UNKNOWN_URL = (
    "url must be a Lichess arena or Swiss (https://lichess.org/tournament/<id>, "
    "https://lichess.org/swiss/<id>) or a Chess.com arena or Swiss "
    "(https://www.chess.com/tournament/live/arena/<id>, https://www.chess.com/tournament/live/<id>)"
)


def parse_url(url: Any) -> tuple[str, str, str | None]:
    """(site, id, type) of a tournament URL; the type of a Chess.com /tournament/live/<id> is
    the site's to say (None). Invalid for anything else: other hosts, schemes, paths, ids,
    queries or fragments."""
    if not isinstance(url, str) or len(url) > 300:
        raise Invalid(UNKNOWN_URL)
    try:
        parts = urlsplit(url.strip())
        extra = parts.query or parts.fragment or parts.port or parts.username
    except ValueError as error:  # a malformed port or host
        raise Invalid(UNKNOWN_URL) from error
    if parts.scheme != "https" or extra:
        raise Invalid(UNKNOWN_URL)
    host = (parts.hostname or "").lower()
    segments = parts.path.removesuffix("/").split("/")[1:]
    if (
        host == "lichess.org"
        and len(segments) == 2
        and segments[0] in _LICHESS_PATHS
        and _LICHESS_ID.fullmatch(segments[1])
    ):
        return LICHESS, segments[1], _LICHESS_PATHS[segments[0]]
    if host in ("www.chess.com", "chess.com") and segments[:2] == ["tournament", "live"]:
        rest = segments[2:]
        if len(rest) == 2 and rest[0] == "arena" and _CHESSCOM_ID.fullmatch(rest[1]):
            return CHESSCOM, rest[1], ARENA
        if len(rest) == 1 and rest[0] != "arena" and _CHESSCOM_ID.fullmatch(rest[0]):
            return CHESSCOM, rest[0], None
    raise Invalid(UNKNOWN_URL)


def read(url: Any) -> dict[str, Any]:
    """The tournament at `url`, as the contract's record (without the stored-only fields)."""
    site, id, kind = parse_url(url)
    if site == LICHESS and kind == ARENA:
        return _lichess_arena(id, _get(f"{settings.lichess_api()}/api/tournament/{id}", site, id))
    if site == LICHESS:
        return _lichess_swiss(id, _get(f"{settings.lichess_api()}/api/swiss/{id}", site, id))
    answer = _get(f"{settings.chesscom_api()}/pub/tournament/{id}", site, id)
    return _chesscom(id, kind, answer)


@functools.cache
def _session() -> requests.Session:
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    session.headers["User-Agent"] = "dojo-scheduler (club tournaments)"
    return session


def _get(address: str, site: str, id: str) -> dict[str, Any]:
    name = "Lichess" if site == LICHESS else "Chess.com"
    try:
        response = _session().get(address, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as error:
        raise Unavailable(detail=f"{name} GET {address}: {error}") from error
    if response.status_code == 404:
        raise Invalid(f"{name} has no tournament {id!r}")
    if response.status_code != 200:
        raise Unavailable(detail=f"{name} GET {address}: HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError as error:
        raise Unavailable(detail=f"{name} GET {address}: not JSON") from error
    if not isinstance(answer, dict):
        raise Unavailable(detail=f"{name} GET {address}: not a JSON object")
    return answer


class _Unreadable(Exception):
    """The site's answer lacks a field this code needs, or holds one of the wrong type."""


def _field(answer: dict, *path: str, kind: type | tuple = str, default: Any = ...) -> Any:
    value: Any = answer
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    if value is None and default is not ...:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _Unreadable(".".join(path))
    return value


def _lichess_speed(limit: int, increment: int) -> str:
    """Lichess's speed of a clock (its estimated game duration: limit + 40 increments)."""
    estimate = limit + 40 * increment
    if estimate < 179:
        return "BULLET"
    if estimate < 479:
        return "BLITZ"
    return "RAPID" if estimate < 1499 else "CLASSICAL"


def _record(
    site: str, kind: str, id: str, location: str, answer: dict, build: Any
) -> dict[str, Any]:
    try:
        record = build()
    except (_Unreadable, ValueError, OverflowError) as error:
        raise Unavailable(detail=f"{site} tournament {id}: unreadable field {error}") from error
    _require_club_speed(record["timeControlType"])
    return {"id": id, "location": location, "site": site, "type": kind, **record}


def _require_club_speed(speed: str) -> None:
    if speed not in TIME_CONTROLS:
        raise Invalid(
            f"The tournament's time control ({speed.lower()}) is not blitz, rapid or classical"
        )


def _lichess_arena(id: str, answer: dict) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        start = parse_time(_field(answer, "startsAt"))
        limit, increment = (
            _field(answer, "clock", "limit", kind=int),
            _field(answer, "clock", "increment", kind=int),
        )
        record = {
            "title": _field(answer, "fullName"),
            "startTime": format_time(start),
            "endTime": format_time(start + timedelta(minutes=_field(answer, "minutes", kind=int))),
            "description": _field(answer, "description", default=""),
            "timeControlType": _field(answer, "perf", "key").upper(),
            "limitSeconds": limit,
            "incrementSeconds": increment,
            "rated": _field(answer, "rated", kind=bool),
        }
        if fen := _field(answer, "position", "fen", default=None):
            record["fen"] = fen
        return record

    return _record(LICHESS, ARENA, id, f"https://lichess.org/tournament/{id}", answer, build)


def _lichess_swiss(id: str, answer: dict) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        start = parse_time(_field(answer, "startsAt"))
        limit = _field(answer, "clock", "limit", kind=int)
        increment = _field(answer, "clock", "increment", kind=int)
        rounds = _field(answer, "nbRounds", kind=int)
        # Lichess says when a Swiss starts, not when it ends: each round is given two players'
        # estimated game duration (Lichess's own estimate: the limit and 40 increments).
        length = timedelta(seconds=max(rounds, 1) * 2 * (limit + 40 * increment))
        record = {
            "title": _field(answer, "name"),
            "startTime": format_time(start),
            "endTime": format_time(start + length),
            "description": _field(answer, "description", default=""),
            "timeControlType": _lichess_speed(limit, increment),
            "limitSeconds": limit,
            "incrementSeconds": increment,
            "rated": _field(answer, "rated", kind=bool),
            "numRounds": rounds,
        }
        if fen := _field(answer, "position", "fen", default=None):
            record["fen"] = fen
        return record

    return _record(LICHESS, SWISS, id, f"https://lichess.org/swiss/{id}", answer, build)


def _chesscom(id: str, kind: str | None, answer: dict) -> dict[str, Any]:
    site_type = str(_field(answer, "settings", "type", default="")).lower()
    if kind is None:
        if site_type != "swiss":
            raise Invalid(f"Chess.com tournament {id!r} is not an arena or a Swiss")
        kind = SWISS
    # A daily (correspondence) or bullet tournament: refused before its clock is read (a daily
    # one's, "1/86400", is not a live clock).
    settings_given = answer.get("settings")
    time_class = settings_given.get("time_class") if isinstance(settings_given, dict) else None
    if isinstance(time_class, str) and time_class:
        _require_club_speed(time_class.upper())
    path = "arena/" if kind == ARENA else ""
    location = f"https://www.chess.com/tournament/live/{path}{id}"

    def build() -> dict[str, Any]:
        start = datetime.fromtimestamp(_field(answer, "start_time", kind=int), UTC)
        finish = _field(answer, "finish_time", kind=int, default=None)
        # Before it ends, Chess.com gives no finish time: an hour, as the original assumed.
        end = datetime.fromtimestamp(finish, UTC) if finish else start + timedelta(hours=1)
        clock = _field(answer, "settings", "time_control").split("+")
        if len(clock) > 2 or not all(part.isascii() and part.isdigit() for part in clock):
            raise _Unreadable("settings.time_control")
        record = {
            "title": _field(answer, "name"),
            "startTime": format_time(start),
            "endTime": format_time(max(end, start)),
            "description": _field(answer, "description", default="")
            or f"{kind.title()} tournament on Chess.com",
            "timeControlType": _field(answer, "settings", "time_class").upper(),
            "limitSeconds": int(clock[0]),
            "incrementSeconds": int(clock[1]) if len(clock) == 2 else 0,
            "rated": _field(answer, "settings", "is_rated", kind=bool),
        }
        if kind == SWISS:
            record["numRounds"] = _field(answer, "settings", "total_rounds", kind=int)
        return record

    return _record(CHESSCOM, kind, id, location, answer, build)
