"""TransactWriteItems in moto as DynamoDB answers it: cheap to roll back, and idempotent.

Two adaptations of moto 5.2's DynamoDB, applied by install() (the local stack's moto server,
and the handler tests' mock_aws in tests/conftest.py):

- **A transaction copies only what it touches.** moto deep-copies every table a transaction
  names (all its items and its stream records) so it can roll back: each transaction then
  costs time and memory in proportion to all the data held, and under load a booking outlives
  the client's read timeout. Here the transaction keeps a copy of each item it is about to
  change and the length of each touched table's stream, and a rollback puts those items back
  and drops the stream records written since. Conditions, errors and cancellation reasons are
  moto's own (the loop below is moto's, with the journal in place of the table copies).
- **ClientRequestToken is honoured.** botocore fills the token and sends the same one when it
  retries, so a transaction whose answer came after the client's read timeout is retried with
  the token of the attempt that committed. DynamoDB answers such a retry with the same success
  for 10 minutes without applying it again, and refuses the token with other parameters
  (IdempotentParameterMismatchException). moto ignores the token: the retry would fail its
  conditions and the winner of a booking would be told 409.

Written against moto 5.2.1 (DynamoDBBackend.transact_write_items, DynamoHandler's); upstream
moto may take both as a patch, and this module goes.
"""

import copy
import hashlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    ConditionalCheckFailed,
    DynamodbException,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

TOKEN_SECONDS = 600.0  # DynamoDB's idempotency window for ClientRequestToken

_moto_handler = DynamoHandler.transact_write_items
clock: Callable[[], float] = time.monotonic  # replaced by tests to pass the window


class IdempotentParameterMismatchException(DynamodbException):
    error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(
            self.error_type,
            message="The request uses the same client token as a previous, but non-identical "
            "request.",
        )


class _Journal:
    """What a transaction changed, to undo it: each touched item as it was (None: absent) and
    each touched table's stream length before the transaction."""

    def __init__(self) -> None:
        self.items: list[tuple[Table, Any, Any, Any]] = []
        self.streams: dict[str, tuple[Table, int]] = {}

    def before_change(self, backend: DynamoDBBackend, table_name: str, key: dict) -> None:
        table = backend.get_table(table_name)
        if table_name not in self.streams and table.stream_shard is not None:
            self.streams[table_name] = (table, len(table.stream_shard.items))
        hash_key, range_key = backend.get_keys_value(table, key)
        # A deep copy: moto's update changes the stored item in place.
        current = copy.deepcopy(table.get_item(hash_key, range_key))
        self.items.append((table, hash_key, range_key, current))

    def roll_back(self) -> None:
        for table, hash_key, range_key, item in reversed(self.items):
            if range_key is None:
                holder, slot = table.items, hash_key
            else:
                holder, slot = table.items[hash_key], range_key
            if item is None:
                holder.pop(slot, None)
            else:
                holder[slot] = item
        for table, length in self.streams.values():
            del table.stream_shard.items[length:]


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's DynamoDBBackend.transact_write_items, rolling back through a _Journal."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    journal = _Journal()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition = get_filter_expression(condition_expression, names, values)
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                journal.before_change(self, table_name, key)
            # The condition was checked above, against this item, in this request (moto applies
            # one at a time): moto's write need not parse and check it again (moto's own loop
            # does; a fifth of a transaction's cost).
            conditions = {
                "condition_expression": None,
                "expression_attribute_names": names,
                "expression_attribute_values": values,
            }
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **conditions)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **conditions)
            elif op_type == "Update":
                self.update_item(
                    table_name, key, update_expression=op["UpdateExpression"], **conditions
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            journal.roll_back()
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:  # noqa: BLE001 moto's: any other failure cancels
            errors.append((type(error).__name__, str(error), original_item))

    if any(code is not None for code, _, _ in errors):
        journal.roll_back()
        raise TransactionCanceledException(errors)


class _Tokens:
    """The client tokens of the transactions that succeeded in the last TOKEN_SECONDS."""

    def __init__(self) -> None:
        self.requests: dict[str, tuple[bytes, Any]] = {}  # token -> (parameters, answer)
        self.expiry: deque[tuple[float, str]] = deque()  # (when it expires, token), in order

    def forget_expired(self, now: float) -> None:
        while self.expiry and self.expiry[0][0] <= now:
            self.requests.pop(self.expiry.popleft()[1], None)


def _binary(value: Any) -> str:
    """A binary attribute's value (B, BS: moto parses them to bytes) in the parameters' digest."""
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} in a transaction's parameters")


def transact_write_items_handler(self: DynamoHandler) -> Any:
    """DynamoHandler.transact_write_items, answering a token seen within the window as its
    first success did (or refusing it with other parameters)."""
    token = self.body.get("ClientRequestToken")
    if token is None:
        return _moto_handler(self)
    tokens = self.dynamodb_backend.__dict__.setdefault("client_request_tokens", _Tokens())
    now = clock()
    tokens.forget_expired(now)
    # A digest of the other parameters: all a later request with the token is compared with.
    parameters = hashlib.sha256(
        json.dumps(
            {name: value for name, value in self.body.items() if name != "ClientRequestToken"},
            sort_keys=True,
            default=_binary,
        ).encode()
    ).digest()
    if token in tokens.requests:
        seen, answer = tokens.requests[token]
        if seen != parameters:
            raise IdempotentParameterMismatchException()
        return answer
    answer = _moto_handler(self)  # raises when the transaction is cancelled: not remembered
    tokens.requests[token] = (parameters, answer)
    tokens.expiry.append((now + TOKEN_SECONDS, token))
    return answer


def install() -> None:
    """Applies both adaptations to moto (idempotent)."""
    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoHandler.transact_write_items = transact_write_items_handler
