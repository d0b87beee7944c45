"""DynamoDB Streams' retention in moto, so a stream held all day does not grow without bound.

moto 5.2 keeps every stream record of a table for ever, and every shard iterator it ever gave
(GetRecords hands out a new one each call: the poller's reads alone add several a second).
DynamoDB keeps a stream record 24 hours and an iterator 15 minutes. install() makes moto do
the same, and more: records every reader of the stream has read (read_through(), from
local/streams.py's pollers in the local stack) are dropped at the next GetRecords.

A trimmed shard keeps its sequence numbers: the records left start at the first one kept,
and an iterator pointing into trimmed records reads on from there (as Lambda's mapping goes on
past expired records). Trimming happens only inside a GetRecords, a request like any other,
so never during a transaction (local/transactions.py rolls a stream back by its length).
"""

import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from moto.core.utils import utcnow
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamShard
from moto.dynamodbstreams.models import DynamoDBStreamsBackend

from local.serverless import ACCOUNT_ID, REGION

RECORD_RETENTION = timedelta(hours=24)
ITERATOR_SECONDS = 15 * 60.0

_moto_get = StreamShard.get
_moto_streams_init = DynamoDBStreamsBackend.__init__
clock: Callable[[], float] = time.monotonic  # replaced by tests


def read_through(table_name: str, sequence_number: str) -> None:
    """Every reader of `table_name`'s stream (in this process's moto) has read the records up
    to `sequence_number`: they go at the next GetRecords. One assignment: safe from any
    thread."""
    shard = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name).stream_shard
    if shard is not None:
        shard.read_through = int(sequence_number)


def trim(shard: StreamShard) -> None:
    """Drops the shard's records read by every reader or older than RECORD_RETENTION."""
    read = getattr(shard, "read_through", 0)
    oldest = utcnow() - RECORD_RETENTION
    first_kept = 0
    for record in shard.items:
        change = record.record["dynamodb"]
        if int(change["SequenceNumber"]) > read and change["ApproximateCreationDateTime"] > oldest:
            break
        first_kept += 1
    if first_kept:
        del shard.items[:first_kept]
        shard.starting_sequence_number += first_kept


def _get(self: StreamShard, start: int, quantity: int) -> list[dict[str, Any]]:
    trim(self)
    return _moto_get(self, max(start, self.starting_sequence_number), quantity)


class _ExpiringIterators(dict):
    """moto's shard iterators by ARN, each forgotten ITERATOR_SECONDS after it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: deque[tuple[float, str]] = deque()  # (when, ARN), oldest first

    def __setitem__(self, arn: str, iterator: Any) -> None:
        super().__setitem__(arn, iterator)
        now = clock()
        self.issued.append((now, arn))
        while self.issued[0][0] <= now - ITERATOR_SECONDS:
            self.pop(self.issued.popleft()[1], None)


def _streams_backend_init(self: DynamoDBStreamsBackend, *args: Any, **kwargs: Any) -> None:
    _moto_streams_init(self, *args, **kwargs)
    self.shard_iterators = _ExpiringIterators()


def install() -> None:
    """Applies the retention to moto (idempotent)."""
    StreamShard.get = _get
    DynamoDBStreamsBackend.__init__ = _streams_backend_init
