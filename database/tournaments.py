"""The tournaments table (`<stage>-tournaments`, only on stages with tournaments): the club's
tournaments, its leaderboards and the monthly job's progress, under one key scheme.

- a tournament: pk `TOURNAMENT#<site>#<id>`, sk `TOURNAMENT`; `listing` + `startTime` are the
  keys of StartTimeIndex; expires (TTL) a week after it ends;
- a leaderboard: pk `LEADERBOARD#<site>#<MONTHLY|YEARLY>#<type>#<timeControl>`, sk `CURRENT`
  or the period of a snapshot (`YYYY-MM`, `YYYY`); `players` and `version`;
- the scores reset for a month: pk `MONGO_RESET`, sk `YYYY-MM` (the month closed).

Every read is a GetItem or a Query of StartTimeIndex (one partition, `TOURNAMENT`: a club's
tournaments of the coming weeks, each gone a week after it ends); nothing scans.
A current leaderboard changes only through a transaction conditional on the `version` it was
read at, so two concurrent changes never lose one (the loser reads again and retries).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

import msgspec
from botocore.exceptions import ClientError

from database import parallel, settings
from database.client import conditional, dynamodb, error_code, from_item, to_item, translate_errors
from database.errors import Conflict, Invalid
from database.times import format_time, parse_stored

TOURNAMENT, LISTING, INDEX = "TOURNAMENT", "TOURNAMENT", "StartTimeIndex"
CURRENT = "CURRENT"
MONTHLY, YEARLY = "MONTHLY", "YEARLY"
# Each choice is written once, as the type msgspec validates with (a type checker reads only
# literal values there), and listed from it.
Site = Literal["lichess", "chesscom"]
TournamentType = Literal["ARENA", "SWISS", "GRAND_PRIX", "MIDDLEGAME_SPARRING", "ENDGAME_SPARRING"]
TimeControl = Literal["BLITZ", "RAPID", "CLASSICAL"]
SITES: tuple[Site, ...] = get_args(Site)
TYPES: tuple[TournamentType, ...] = get_args(TournamentType)
TIME_CONTROLS: tuple[TimeControl, ...] = get_args(TimeControl)
RESET = "MONGO_RESET"
KEEP_AFTER_END = timedelta(days=7)  # a tournament leaves the calendar a week after it ends
# A leaderboard change that lost a race reads again and retries, this many times in all.
UPDATE_ATTEMPTS = 5
# The stored tournament's fields the API returns (the contract's record), in its order.
TOURNAMENT_FIELDS = (
    "id", "title", "startTime", "endTime", "location", "description", "site", "type",
    "timeControlType", "limitSeconds", "incrementSeconds", "rated", "numRounds", "fen",
)  # fmt: skip


def table() -> str:
    """The table's name; empty where tournaments are off (the calendar then lists none)."""
    return settings.current().tournaments_table


# --- tournaments -----------------------------------------------------------------------------


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in TOURNAMENT_FIELDS if name in item}


@translate_errors
def add_tournament(record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Stores the tournament unless one with its site and id is stored: (the stored one, whether
    it is new). The same URL posted twice, even at once, is one tournament."""
    key = {"pk": f"{TOURNAMENT}#{record['site']}#{record['id']}", "sk": TOURNAMENT}
    end = parse_stored(record["endTime"])
    item = {
        **key,
        **record,
        "listing": LISTING,
        "expirationTime": int((end + KEEP_AFTER_END).timestamp()),
    }
    created = conditional(
        dynamodb().put_item,
        TableName=table(),
        Item=to_item(item),
        ConditionExpression="attribute_not_exists(pk)",
    )
    if created is not None:
        return _public(item), True
    stored = dynamodb().get_item(TableName=table(), Key=to_item(key), ConsistentRead=True)
    if "Item" not in stored:  # expired (TTL) between the two calls: the bot may post again
        raise Conflict("The tournament was being replaced; post it again")
    return _public(from_item(stored["Item"])), False


@translate_errors
def tournaments_from(since: datetime) -> list[dict[str, Any]]:
    """The club's tournaments starting at `since` or later, by start; [] where they are off."""
    if not table():
        return []
    query: dict[str, Any] = {
        "TableName": table(),
        "IndexName": INDEX,
        "KeyConditionExpression": "listing = :listing AND startTime >= :since",
        "ExpressionAttributeValues": to_item({":listing": LISTING, ":since": format_time(since)}),
    }
    found = []
    while True:
        answer = dynamodb().query(**query)
        found += [_public(from_item(item)) for item in answer["Items"]]
        if "LastEvaluatedKey" not in answer:
            return found
        query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


# --- leaderboards ----------------------------------------------------------------------------


def starts_at(period: str, date: datetime, today: datetime) -> str:
    """Which leaderboard of `period` holds `date`: CURRENT for today's month (year), else that
    month's (year's) snapshot."""
    if period == MONTHLY:
        current = (date.year, date.month) == (today.year, today.month)
        return CURRENT if current else f"{date.year:04d}-{date.month:02d}"
    return CURRENT if date.year == today.year else f"{date.year:04d}"


def closed_by(at: datetime) -> dict[str, str]:
    """What the monthly job run at `at` closes: the month before `at`'s, and in January the
    year before: {MONTHLY: "YYYY-MM", YEARLY: "YYYY"}."""
    year, month = (at.year, at.month - 1) if at.month > 1 else (at.year - 1, 12)
    periods = {MONTHLY: f"{year:04d}-{month:02d}"}
    if at.month == 1:
        periods[YEARLY] = f"{year:04d}"
    return periods


@dataclass(frozen=True)
class Board:
    """One leaderboard: site (lichess, chesscom), MONTHLY or YEARLY, type, time control."""

    site: str
    period: str
    type: str
    time_control: str

    @property
    def pk(self) -> str:
        return f"LEADERBOARD#{self.site}#{self.period}#{self.type}#{self.time_control}"

    def key(self, starts_at: str) -> dict[str, dict]:
        return to_item({"pk": self.pk, "sk": starts_at})


def all_boards(period: str) -> list[Board]:
    return [
        Board(site, period, kind, control)
        for site in SITES
        for kind in TYPES
        for control in TIME_CONTROLS
    ]


@dataclass(frozen=True)
class Standing:
    username: str
    rating: int
    score: Decimal

    def to_json(self) -> dict[str, Any]:
        score = self.score
        return {
            "username": self.username,
            "rating": self.rating,
            "score": int(score) if score == score.to_integral_value() else float(score),
        }


def _players_attribute(players: list[Standing]) -> dict:
    # Scores may be halves (a Swiss draw): numbers as DynamoDB's decimal strings, not via
    # database.client's integers.
    return {
        "L": [
            {
                "M": {
                    "username": {"S": p.username},
                    "rating": {"N": str(p.rating)},
                    "score": {"N": str(p.score)},
                }
            }
            for p in players
        ]
    }


def _players(item: dict | None) -> list[Standing]:
    if not item:
        return []
    return [
        Standing(
            username=player["M"]["username"]["S"],
            rating=int(player["M"]["rating"]["N"]),
            score=Decimal(player["M"]["score"]["N"]),
        )
        for player in item["players"]["L"]
    ]


def _version(item: dict | None) -> int:
    return int(item["version"]["N"]) if item else 0


def ranked(players: list[Standing]) -> list[Standing]:
    """Highest score first; equal scores by username, so the order is stable."""
    return sorted(players, key=lambda p: (-p.score, p.username.lower()))


def _get(board: Board, starts_at: str, consistent: bool = False) -> dict | None:
    answer = dynamodb().get_item(
        TableName=table(), Key=board.key(starts_at), ConsistentRead=consistent
    )
    return answer.get("Item")


@translate_errors
def get_leaderboard(board: Board, starts_at: str) -> list[Standing] | None:
    """The standings of `board` for `starts_at` (CURRENT or a snapshot's period), best first;
    None when there is no such leaderboard."""
    item = _get(board, starts_at)
    return None if item is None else ranked(_players(item))


def _write(board: Board, starts_at: str, players: list[Standing], read: dict | None) -> dict:
    """A transaction's Put of a leaderboard, conditional on the version `read` holds."""
    put: dict[str, Any] = {
        "TableName": table(),
        "Item": {
            **board.key(starts_at),
            "players": _players_attribute(ranked(players)),
            "version": {"N": str(_version(read) + 1)},
        },
    }
    if read is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :read"
        put["ExpressionAttributeValues"] = {":read": read["version"]}
    return {"Put": put}


def _lost_race(error: ClientError) -> bool:
    reasons = error.response.get("CancellationReasons") or []
    return error_code(error) == "TransactionCanceledException" and any(
        reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
    )


@translate_errors
def update_standings(site: str, kind: str, control: str, players: list[Standing]) -> None:
    """The bot's standings of this month: they replace the current monthly leaderboard, and each
    player's change of monthly score is added to the current yearly one, in one transaction
    conditional on both versions read. A player missing from `players` keeps their yearly score
    (the bot sends whole standings; the original did the same)."""
    if len({p.username for p in players}) != len(players):
        raise Invalid("players: each username at most once")
    monthly, yearly = Board(site, MONTHLY, kind, control), Board(site, YEARLY, kind, control)
    for _ in range(UPDATE_ATTEMPTS):
        month_item, year_item = parallel.together(
            lambda: _get(monthly, CURRENT, consistent=True),
            lambda: _get(yearly, CURRENT, consistent=True),
        )
        before = {p.username: p.score for p in _players(month_item)}
        year = {p.username: p for p in _players(year_item)}
        for player in players:
            change = player.score - before.get(player.username, Decimal(0))
            previous = year.get(player.username)
            total = change + (previous.score if previous else Decimal(0))
            year[player.username] = Standing(player.username, player.rating, total)
        try:
            dynamodb().transact_write_items(
                TransactItems=[
                    _write(monthly, CURRENT, players, month_item),
                    _write(yearly, CURRENT, list(year.values()), year_item),
                ]
            )
            return
        except ClientError as error:
            if not _lost_race(error):
                raise
    raise ClientError(
        {"Error": {"Code": "TransactionConflict", "Message": "lost every retry"}},
        "TransactWriteItems",
    )


# --- the monthly job -------------------------------------------------------------------------


def _batch_get(keys: list[dict]) -> dict[tuple[str, str], dict]:
    """Items by (pk, sk), in BatchGetItem rounds of at most 100 keys, consistently read."""
    found: dict[tuple[str, str], dict] = {}
    for start in range(0, len(keys), 100):
        request = {table(): {"Keys": keys[start : start + 100], "ConsistentRead": True}}
        while request:
            answer = dynamodb().batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table(), []):
                found[(item["pk"]["S"], item["sk"]["S"])] = item
            request = answer.get("UnprocessedKeys") or {}
    return found


def _snapshot_one(board: Board, period: str, current: dict) -> bool:
    """Copies `current` to `period` and empties it, in one transaction; False (nothing done)
    when that snapshot exists. A concurrent standings update makes it read again."""
    for _ in range(UPDATE_ATTEMPTS):
        try:
            dynamodb().transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table(),
                            "Item": {**current, **board.key(period)},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    _write(board, CURRENT, [], current),
                ]
            )
            return True
        except ClientError as error:
            if not _lost_race(error):
                raise
            reasons = error.response["CancellationReasons"]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                return False  # taken by a run before this one
            fresh = _get(board, CURRENT, consistent=True)
            if fresh is None:
                return False
            current = fresh
    raise ClientError(
        {"Error": {"Code": "TransactionConflict", "Message": "lost every retry"}},
        "TransactWriteItems",
    )


@translate_errors
def snapshot_leaderboards(periods: dict[str, str]) -> list[str]:
    """For each period (MONTHLY -> `YYYY-MM`, YEARLY -> `YYYY`), every current leaderboard is
    copied to that period's snapshot and emptied, unless the snapshot exists (a re-run, or a
    later month's standings): nothing is ever overwritten. Returns the snapshots made."""
    boards = [(board, since) for period, since in periods.items() for board in all_boards(period)]
    keys = [board.key(k) for board, since in boards for k in (CURRENT, since)]
    found = _batch_get(keys)
    made = []
    for board, since in boards:
        current = found.get((board.pk, CURRENT))
        if current is None or (board.pk, since) in found:
            continue
        if _snapshot_one(board, since, current):
            made.append(f"{board.pk}@{since}")
    return made


@translate_errors
def reset_done(month: str) -> bool:
    answer = dynamodb().get_item(
        TableName=table(), Key=to_item({"pk": RESET, "sk": month}), ConsistentRead=True
    )
    return "Item" in answer


@translate_errors
def record_reset(month: str, at: datetime) -> None:
    """Marks the scores reset for `month` (a retry of the job then skips the reset)."""
    conditional(
        dynamodb().put_item,
        TableName=table(),
        Item=to_item({"pk": RESET, "sk": month, "resetAt": format_time(at)}),
        ConditionExpression="attribute_not_exists(pk)",
    )


# --- the bot's standings, as its request body holds them ---------------------------------------


class _Player(msgspec.Struct, forbid_unknown_fields=False):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    rating: Annotated[int, msgspec.Meta(ge=0, le=5000)]
    score: Annotated[float, msgspec.Meta(ge=-1_000_000, le=1_000_000)]


class StandingsUpdate(msgspec.Struct):
    site: Site
    type: TournamentType
    timeControl: TimeControl  # noqa: N815 (the contract's name)
    players: Annotated[list[_Player], msgspec.Meta(max_length=2000)]

    @classmethod
    def from_json(cls, data: dict) -> "StandingsUpdate":
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as error:
            message, _, path = str(error).partition(" - at `$.")
            raise Invalid(f"{path.rstrip('`')}: {message}" if path else message) from None

    def standings(self) -> list[Standing]:
        # The score as JSON wrote it (2.5, not 2.5000000000000001): its shortest repr.
        return [Standing(p.username, p.rating, Decimal(repr(p.score))) for p in self.players]
