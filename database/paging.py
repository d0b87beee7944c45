"""Opaque page tokens and page-filling queries.

A token is the query's LastEvaluatedKey as URL-safe base64 JSON of plain strings. A token
that does not decode, or whose key does not fit the query it is sent to, is a 400: passed on
to DynamoDB it would be a ValidationException, i.e. a 500.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from database.client import dynamodb, from_item, to_item
from database.errors import Invalid

# A filtered query keeps reading until the page is full, at most this many times per request,
# so a page comes back empty only when that many reads in a row matched nothing.
MAX_READS_PER_PAGE = 5

INVALID_START_KEY = "startKey is not valid for this query"


def encode_key(key: dict[str, dict]) -> str:
    plain = json.dumps(from_item(key), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")


def decode_key(
    token: str, *, shapes: tuple[set[str], ...], fixed: dict[str, str]
) -> dict[str, str]:
    """The plain key in `token`; 400 unless its attributes are exactly one of `shapes`, all
    non-empty strings, and those named in `fixed` hold that value (e.g. the caller's own
    partition)."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as error:
        raise Invalid(INVALID_START_KEY, detail=str(error)) from error
    if (
        not isinstance(key, dict)
        or set(key) not in shapes
        or not all(isinstance(value, str) and value for value in key.values())
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


@dataclass(frozen=True)
class Part:
    """One query of a request that reads several in turn (a member's two sides of the meetings
    table, a calendar's four sources): its name in the page token and the attributes of its
    LastEvaluatedKey."""

    name: str
    request: dict
    key: frozenset[str]


def query_parts(
    parts: list[Part], limit: int, token: str | None, *, fixed: dict[str, str]
) -> tuple[list[tuple[str, dict]], str | None]:
    """Up to `limit` items, reading `parts` one after another, each item as (its part's name,
    item), and the token to resume from: each item comes exactly once across pages.

    A token is a part's name with the key to resume that part from, or the name alone ("start
    that part"), when the page filled up just as the previous part ended. `fixed` pins key
    attributes to the caller's own values, as in `decode_key`."""
    names = [part.name for part in parts]
    index, start_key = 0, None
    if token:
        start_key = decode_key(
            token,
            shapes=tuple({"part", *part.key} for part in parts) + ({"part"},),
            fixed=fixed,
        )
        name = start_key.pop("part")
        if name not in names or (start_key and set(start_key) != parts[names.index(name)].key):
            raise Invalid(INVALID_START_KEY, detail=f"startKey part {name!r}")
        index, start_key = names.index(name), start_key or None
    found: list[tuple[str, dict]] = []
    for position in range(index, len(parts)):
        part = parts[position]
        items, key = query_page(part.request, limit - len(found), start_key)
        found.extend((part.name, item) for item in items)
        if key:
            return found, encode_key({**key, "part": {"S": part.name}})
        start_key = None
        if len(found) >= limit:
            more = position + 1 < len(parts)
            return found, encode_key({"part": {"S": names[position + 1]}}) if more else None
    return found, None
