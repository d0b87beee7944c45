"""DynamoDB Streams into functions, as Lambda's event source mappings do it, for `make run`.

For each `stream` event of serverless.yml (local/serverless.py's StreamSubscription), a thread
reads the table's stream in moto (the dynamodbstreams API, through boto3) from where it ended
when the stack started (LATEST), every POLL_SECONDS, and invokes the function with up to
`batchSize` records in Lambda's DynamoDB Streams event shape. As with `functionResponseType:
ReportBatchItemFailures`, a record named in the answer's `batchItemFailures` is retried, with
every record after it, before anything newer of its shard (an item's changes stay in order); a
function that raises or times out fails its whole batch. After `maximumRetryAttempts` retries
the records are given up with a log line (AWS would send their coordinates to the on-failure
destination; there is none here).

Records every reader of a table has read are dropped from moto (local/stream_retention.py), so
a stream held all day stays small. Once the stack is stopping, a delivery that fails (its
environment stopped under it) is dropped without a word: the stack is going away.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3

from local import stream_retention
from local.serverless import Function, Service

log = logging.getLogger("local")

POLL_SECONDS = 0.5  # a message shows about as soon as the request that caused it
# maximumRetryAttempts -1 (AWS's default) retries until the record expires (24 h): bounded here.
UNBOUNDED_RETRIES = 10
MAX_RETRY_DELAY = 30.0  # seconds; retries back off 1 s, 2 s, 4 s... up to this

Invoke = Callable[[dict[str, Any]], Any]


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 reads it) as Lambda hands it to a function: with the
    stream's ARN (`eventSourceARN`) and the creation time in epoch seconds."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": change, "eventSourceARN": stream_arn}


def first_failure(answer: Any, records: list[dict[str, Any]]) -> int | None:
    """The index of the first record the function's answer reports failed, None if none.
    An answer naming a record that is not in the batch fails the whole batch, as on Lambda."""
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    if not failures:
        return None
    sequence = [record["dynamodb"]["SequenceNumber"] for record in records]
    named = [
        failure.get("itemIdentifier") if isinstance(failure, dict) else None for failure in failures
    ]
    if any(identifier not in sequence for identifier in named):
        return 0
    return min(sequence.index(identifier) for identifier in named)


class ShardReader:
    """One shard of a stream, read in order from where it ended when the reader was made
    (LATEST): a failed batch blocks the shard until it is done or given up, as on Lambda."""

    def __init__(
        self,
        label: str,
        stream_arn: str,
        shard_id: str,
        streams: Any,
        invoke: Invoke,
        batch_size: int,
        max_retries: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label = label  # function <- table, for the log
        self.stream_arn = stream_arn
        self.shard_id = shard_id
        self.streams = streams
        self.invoke = invoke
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.clock = clock
        self.pending: list[dict[str, Any]] = []  # a failed batch's records still to retry
        self.retries = 0
        self.retry_at = 0.0
        self.after: str | None = None  # the last sequence number read
        self.stopping = False  # set by the poller: failures are then dropped quietly
        while records := self._read(1000):  # skipped: what was written before
            self.after = records[-1]["dynamodb"]["SequenceNumber"]

    def step(self) -> bool:
        """Retries the failed records when due, or else reads and delivers the next batch.
        True when the batch was full: more records may be waiting."""
        if self.pending:
            if self.clock() >= self.retry_at:
                self._deliver(self.pending)
            return False
        records = self._read(self.batch_size)
        if records:
            self.after = records[-1]["dynamodb"]["SequenceNumber"]
            self._deliver(records)
        return len(records) == self.batch_size

    def _read(self, limit: int) -> list[dict[str, Any]]:
        # A new iterator for each read, after the last record read: moto forgets iterators
        # (after 15 minutes, local/stream_retention.py), and one taken now reads what is kept.
        position = (
            {"ShardIteratorType": "TRIM_HORIZON"}
            if self.after is None
            else {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.after}
        )
        iterator = self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=self.shard_id, **position
        )["ShardIterator"]
        result = self.streams.get_records(ShardIterator=iterator, Limit=limit)
        return [lambda_record(record, self.stream_arn) for record in result["Records"]]

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        try:
            failed = first_failure(self.invoke({"Records": records}), records)
        except Exception as error:  # it raised, timed out, or its environment died
            if self.stopping:
                self.pending = []
                return
            log.error("%s failed on %d records: %s", self.label, len(records), error)
            failed = 0
        if failed is not None and self.stopping:
            self.pending = []
            return
        if failed is None:
            self.pending, self.retries = [], 0
            return
        self.pending = records[failed:]
        first = self.pending[0]["dynamodb"]["SequenceNumber"]
        if self.retries >= self.max_retries:
            log.error(
                "%s gave up on %d records from sequence number %s after %d retries "
                "(AWS would send them to the on-failure destination)",
                self.label,
                len(self.pending),
                first,
                self.retries,
            )
            self.pending, self.retries = [], 0
            return
        self.retries += 1
        delay = min(2.0 ** (self.retries - 1), MAX_RETRY_DELAY)
        self.retry_at = self.clock() + delay
        log.warning(
            "%s: %d records from sequence number %s failed; retry %d of %d in %.0f s",
            self.label,
            len(self.pending),
            first,
            self.retries,
            self.max_retries,
            delay,
        )


class StreamPoller:
    """A thread reading one table's stream for one function, until stop()."""

    def __init__(
        self,
        readers: list[ShardReader],
        label: str,
        interval: float = POLL_SECONDS,
        after_step: Callable[[], None] = lambda: None,
    ):
        self.readers = readers
        self.label = label
        self.interval = interval
        self.after_step = after_step  # run after each round of reads (the stream's trimming)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream {label}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Asks the thread to stop once its current delivery, if any, is done."""
        for reader in self.readers:
            reader.stopping = True
        self._stopping.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        failing = False
        # A shard that gave a full batch is read again at once, as Lambda's poller does: a
        # pause after each batch would let a busy stream fall behind (and its records, which
        # are trimmed once read, pile up) however short the pause. The first round: at once.
        backlog = True
        while not self._stopping.wait(0 if backlog else self.interval):
            backlog = False
            try:
                for reader in self.readers:
                    backlog = reader.step() or backlog
                self.after_step()
                failing = False
            except Exception:  # never ends the thread, or the stack; logged once per outage
                if not failing and not self._stopping.is_set():
                    log.exception("Reading the stream of %s failed; still trying", self.label)
                failing = True


def stop(pollers: list[StreamPoller], timeout: float = 2.0) -> None:
    """Stops every poller, waiting at most `timeout` in all for deliveries in progress (the
    threads are daemons: one still waiting for its function ends with the stack)."""
    for poller in pollers:
        poller.stop()
    deadline = time.monotonic() + timeout
    for poller in pollers:
        poller.join(max(0.0, deadline - time.monotonic()))


def start(
    service: Service, invoke: Callable[[Function, dict[str, Any]], Any], endpoint_url: str
) -> list[StreamPoller]:
    """A running poller for each stream subscription of `service`, reading from now on;
    `invoke(function, event)` runs a function (Lambdas.invoke). moto runs in this process:
    what every reader of a table has read is trimmed from its stream."""
    pollers = []
    readers_of: dict[str, list[ShardReader]] = {}  # table name -> every reader of its stream
    for subscription in service.streams:
        table = service.table_name(subscription.table)
        label = f"{subscription.function} <- {table}"
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
        streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url)
        arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        function = service.functions[subscription.function]
        retries = subscription.maximum_retry_attempts
        readers = [
            ShardReader(
                label,
                arn,
                shard["ShardId"],
                streams,
                lambda event, function=function: invoke(function, event),
                subscription.batch_size,
                retries if retries >= 0 else UNBOUNDED_RETRIES,
            )
            for shard in shards
        ]
        readers_of.setdefault(table, []).extend(readers)
        trim = functools.partial(_read_by_all, table, readers_of[table])
        pollers.append(StreamPoller(readers, label, after_step=trim))
    for poller in pollers:  # once every reader is known
        poller.start()
    return pollers


def _read_by_all(table: str, readers: list[ShardReader]) -> None:
    """Tells moto how far every reader of `table`'s stream has read (one shard in moto)."""
    positions = [reader.after for reader in readers]
    if positions and None not in positions:
        stream_retention.read_through(table, min(positions, key=int))
