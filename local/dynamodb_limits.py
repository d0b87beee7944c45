"""DynamoDB's size limits where moto is lenient, applied to moto itself: the local stack's
server and the handler tests' `mock_aws` alike refuse what DynamoDB refuses, with its
ValidationException and its message, before anything is read or written.

moto checks the key sizes of the items it writes (PutItem, BatchWriteItem, a transaction's
Put, an UpdateItem that creates the item), and item sizes. What it lets through, and this adds:

- a key over DynamoDB's limits (partition key 2048 bytes, sort key 1024 bytes) in a request
  that names an item by its key: GetItem, DeleteItem, BatchGetItem, TransactGetItems and a
  transaction's ConditionCheck and Delete (moto finds no such item and answers as if absent);
- a Query's partition key value over 2048 bytes, or a sort key value over 1024;
- an index's key attribute over the same limits in an item written: DynamoDB names the index
  ("Size limit exceeded for Index Key ..."), moto spoke of the table's key.

Item sizes: DynamoDB refuses an item over 400 KB (409,600 bytes: attribute names and values,
UTF-8). moto refuses from 405,000 bytes, short of the limit; here it refuses over 400 KB
exactly, with its own messages for PutItem and UpdateItem (DynamoDB's).

`apply()` patches moto once per process; local/aws.py and tests/conftest.py call it.
"""

from typing import Any

from moto.dynamodb.exceptions import (
    HashKeyTooLong,
    ItemSizeTooLarge,
    MockValidationException,
    RangeKeyTooLong,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict, bytesize
from moto.dynamodb.models.table import Table

PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024
ITEM_MAX_BYTES = 400 * 1024

_applied = False


def apply() -> None:
    """Patches moto's DynamoDB (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    _check_keys_named(DynamoDBBackend)
    _check_query_keys(DynamoDBBackend)
    _check_index_keys(Table)
    _item_limit_of_400_kb(LimitedSizeDict)


def check_key(partition: Any, sort: Any = None) -> None:
    """DynamoDB's ValidationException for a key value over its limit (values as DynamoType,
    or as the wire's {"S": ...})."""
    if partition is not None and _size(partition) > PARTITION_KEY_MAX_BYTES:
        raise HashKeyTooLong
    if sort is not None and _size(sort) > SORT_KEY_MAX_BYTES:
        raise RangeKeyTooLong


def _size(value: Any) -> int:
    return (value if isinstance(value, DynamoType) else DynamoType(value)).size()


def _check_keys_named(backend: type) -> None:
    # Every request naming an item by its key goes through get_keys_value (GetItem, DeleteItem,
    # BatchGetItem and TransactGetItems per key, a transaction's actions through get_item).
    original = backend.get_keys_value

    def get_keys_value(self: Any, table: Any, keys: dict[str, Any]) -> tuple[Any, Any]:
        partition, sort = original(self, table, keys)
        check_key(partition, sort)
        return partition, sort

    backend.get_keys_value = get_keys_value


def _check_query_keys(backend: type) -> None:
    original = backend.query

    def query(
        self: Any,
        table_name: str,
        hash_key_dict: dict[str, Any] | None,
        range_comparison: str | None,
        range_value_dicts: list[dict[str, Any]],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        check_key(hash_key_dict)
        for value in range_value_dicts or ():
            check_key(None, value)
        return original(
            self, table_name, hash_key_dict, range_comparison, range_value_dicts, *args, **kwargs
        )

    backend.query = query


def _check_index_keys(table: type) -> None:
    def _validate_key_sizes(self: Any, item_attrs: dict[str, Any]) -> None:
        check_key(
            item_attrs.get(self.hash_key_attr),
            item_attrs.get(self.range_key_attr) if self.range_key_attr else None,
        )
        for index in [*(self.global_indexes or ()), *(self.indexes or ())]:
            for key in index.schema:
                value = item_attrs.get(key["AttributeName"])
                if value is None:
                    continue
                limit = PARTITION_KEY_MAX_BYTES if key["KeyType"] == "HASH" else SORT_KEY_MAX_BYTES
                size = _size(value)
                if size > limit:
                    raise MockValidationException(
                        "One or more parameter values were invalid: Size limit exceeded for "
                        f"Index Key {key['AttributeName']} Actual Size: {size} bytes "
                        f"Max Size: {limit} bytes IndexName: {index.name}"
                    )

    table._validate_key_sizes = _validate_key_sizes


def _item_limit_of_400_kb(attributes: type) -> None:
    # moto's check, at 405,000 bytes, runs on every attribute set; only when it refuses is the
    # size computed again, to let through what DynamoDB accepts up to 409,600 bytes.
    original = attributes.__setitem__

    def __setitem__(self: dict[str, Any], key: str, value: Any) -> None:
        try:
            original(self, key, value)
        except ItemSizeTooLarge:
            others = sum(bytesize(k) + _size(v) for k, v in self.items() if k != key)
            if others + bytesize(key) + _size(value) > ITEM_MAX_BYTES:
                raise
            dict.__setitem__(self, key, value)

    attributes.__setitem__ = __setitem__
