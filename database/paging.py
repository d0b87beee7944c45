"""Opaque page tokens and page-filling queries.

A token is the query's LastEvaluatedKey as URL-safe base64 JSON of plain strings. A token
that does not decode, or whose key does not fit the query it is sent to, is a 400: passed on
to DynamoDB it would be a ValidationException, i.e. a 500.
"""

import base64
import binascii
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

from database import parallel
from database.client import dynamodb, from_item, to_item
from database.errors import Invalid
from database.models import read_json
from database.times import format_time, parse_time

# A filtered query keeps reading until the page is full, at most this many times per request,
# so a page comes back empty only when that many reads in a row matched nothing.
MAX_READS_PER_PAGE = 5

INVALID_START_KEY = "startKey is not valid for this query"
# DynamoDB's limit on a sort key value (a partition key's is 2048): no key it gave out is longer.
MAX_KEY_BYTES = 1024


def encode_key(key: dict[str, dict]) -> str:
    return _encode(from_item(key))


def decode_key(
    token: str, *, shapes: tuple[set[str], ...], fixed: dict[str, str]
) -> dict[str, str]:
    """The plain key in `token`; 400 unless it fits the query (see `_check_key`)."""
    return _check_key(_decode(token), shapes, fixed)


def _encode(plain: object) -> str:
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str) -> object:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as error:
        raise Invalid(INVALID_START_KEY, detail=str(error)) from error
    try:
        return read_json(text, "startKey")
    except Invalid as error:  # deeply nested, lone surrogates...: not a token this API gave
        raise Invalid(INVALID_START_KEY, detail=error.detail) from error


def _check_key(key: object, shapes: tuple[set[str], ...], fixed: dict[str, str]) -> dict:
    """`key` itself; 400 unless its attributes are exactly one of `shapes`, all non-empty
    strings, and those named in `fixed` hold that value (e.g. the caller's own partition)."""
    if (
        not isinstance(key, dict)
        or set(key) not in shapes
        or not all(isinstance(value, str) and value for value in key.values())
        or any(len(value.encode()) > MAX_KEY_BYTES for value in key.values())
        or any(key[name] != value for name, value in fixed.items() if name in key)
    ):
        raise Invalid(INVALID_START_KEY, detail=f"startKey {key!r}")
    return key


def query_page(
    request: dict, limit: int, start_key: dict[str, str] | None = None
) -> tuple[list[dict], dict | None]:
    """Up to `limit` matching items from the query `request`, reading on while a filter leaves
    the page short, and the key to resume from (None when the query is exhausted).

    Each read asks only for what is still missing, so the resume key never skips an item."""
    items: list[dict] = []
    key = to_item(start_key) if start_key else None
    for _ in range(MAX_READS_PER_PAGE):
        page = dynamodb().query(
            **request, Limit=limit - len(items), **({"ExclusiveStartKey": key} if key else {})
        )
        items.extend(from_item(item) for item in page["Items"])
        key = page.get("LastEvaluatedKey")
        if key is None or len(items) >= limit:
            break
    return items, key


def starting_from(request: dict, since: str | None) -> dict:
    """`request` filtered to items starting at or after `since` (a stored time; None: all)."""
    if since is None:
        return request
    return {
        **request,
        "FilterExpression": "#start >= :since",
        "ExpressionAttributeNames": {**request["ExpressionAttributeNames"], "#start": "startTime"},
        "ExpressionAttributeValues": {
            **request["ExpressionAttributeValues"],
            **to_item({":since": since}),
        },
    }


@dataclass(frozen=True)
class Part:
    """One query of a request that reads several (a member's two sides of the meetings table,
    a calendar's four sources): its name in the page token and the attributes of its
    LastEvaluatedKey (the table's key plus the index's)."""

    name: str
    request: dict
    key: frozenset[str]
    # (sort key, its lowest value) when the query's key condition starts the range there: a
    # position must be a stored time, and one before that value (a token from a page read
    # with an earlier default start) resumes where the query now starts. DynamoDB refuses an
    # ExclusiveStartKey outside the key condition.
    starts_at: tuple[str, str] | None = None
    # A part whose key is not the caller's (others' availabilities) pins its own attributes
    # instead of query_parts' `fixed`, and may check the rest (a sort key within the query's
    # range: DynamoDB refuses a start key outside it, which would be a 500).
    fixed: dict[str, str] | None = None
    accepts: Callable[[dict[str, str]], bool] | None = None

    def position(self, item: dict) -> dict[str, str]:
        """The key to resume this part's query right after `item`."""
        return {name: item[name] for name in self.key}


# In a token, the part to read from its first item.
FROM_START = "start"


def query_parts(
    parts: list[Part], limit: int, token: str | None, *, fixed: dict[str, str]
) -> tuple[list[tuple[str, dict]], str | None]:
    """Up to `limit` items, each as (its part's name, item), the parts read at the same time
    (one round trip for the lot), and the token to resume from: each item comes exactly once
    across pages, parts in their order.

    A token maps each part still to read to where it resumes: a key, or FROM_START; a part
    missing from it is done. `fixed` pins key attributes to the caller's own values."""
    positions = _positions(token, parts, fixed) if token else dict.fromkeys(p.name for p in parts)
    live = [part for part in parts if part.name in positions]
    pages = parallel.together(
        *(functools.partial(query_page, part.request, limit, positions[part.name]) for part in live)
    )
    found: list[tuple[str, dict]] = []
    following: dict[str, dict | str] = {}
    for part, (items, last_key) in zip(live, pages, strict=True):
        taken = items[: limit - len(found)]
        found.extend((part.name, item) for item in taken)
        if len(taken) < len(items):  # the page is full: resume after the last item taken
            start = positions[part.name]
            following[part.name] = part.position(taken[-1]) if taken else start or FROM_START
        elif last_key:
            following[part.name] = from_item(last_key)
    return found, _encode(following) if following else None


def _positions(token: str, parts: list[Part], fixed: dict[str, str]) -> dict[str, dict | None]:
    positions = _decode(token)
    by_name = {part.name: part for part in parts}
    if not isinstance(positions, dict) or not positions or not set(positions) <= set(by_name):
        raise Invalid(INVALID_START_KEY, detail=f"startKey {positions!r}")
    return {
        name: None
        if position == FROM_START
        else _within_part(_check_part_key(position, by_name[name], fixed), by_name[name])
        for name, position in positions.items()
    }


def _check_part_key(position: object, part: Part, fixed: dict[str, str]) -> dict[str, str]:
    key = _check_key(position, (set(part.key),), fixed if part.fixed is None else part.fixed)
    if part.accepts is not None and not part.accepts(key):
        raise Invalid(INVALID_START_KEY, detail=f"startKey {key!r}")
    return key


def _within_part(position: dict[str, str], part: Part) -> dict[str, str] | None:
    if part.starts_at is None:
        return position
    attribute, low = part.starts_at
    if not is_stored_time(position[attribute]):
        raise Invalid(INVALID_START_KEY, detail=f"startKey {part.name} {position!r}")
    return position if position[attribute] >= low else None  # None: from the start


def is_stored_time(value: str) -> bool:
    """A time as this code stores it (fixed-width UTC: string order is time order)."""
    try:
        return format_time(parse_time(value)) == value
    except ValueError:
        return False
