"""DynamoDB Streams' retention in moto (local/stream_retention.py, installed for every test by
conftest.py): records read by every reader go, records older than 24 hours go, sequence
numbers stay, and shard iterators are forgotten after 15 minutes."""

import gc
from datetime import timedelta

import boto3
import pytest
from moto.core.utils import utcnow
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodbstreams.models import dynamodbstreams_backends

import local.stream_retention as retention
from database.client import to_item

TABLE = "test-availabilities"


class Stream:
    def __init__(self, tables):
        self.client = boto3.client("dynamodbstreams")
        self.arn = tables.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        description = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]
        self.shard = description["Shards"][0]["ShardId"]

    def read(self, **position) -> list[str]:
        """The ids of the records from `position` (default: the oldest kept)."""
        position = position or {"ShardIteratorType": "TRIM_HORIZON"}
        iterator = self.client.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard, **position
        )["ShardIterator"]
        records = self.client.get_records(ShardIterator=iterator)["Records"]
        return [record["dynamodb"]["Keys"]["id"]["S"] for record in records]

    def sequence_numbers(self) -> list[str]:
        iterator = self.client.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = self.client.get_records(ShardIterator=iterator)["Records"]
        return [record["dynamodb"]["SequenceNumber"] for record in records]


def put(tables, *ids: str) -> None:
    for availability_id in ids:
        item = {"owner": "alice", "id": availability_id}
        tables.put_item(TableName=TABLE, Item=to_item(item))


def test_records_every_reader_read_are_dropped_and_sequence_numbers_stay(tables):
    stream = Stream(tables)
    put(tables, "a1", "a2", "a3")
    numbers = stream.sequence_numbers()
    # WHEN every reader has read up to the second record
    retention.read_through(TABLE, numbers[1])
    # THEN only the third is kept, under its own sequence number
    assert stream.read() == ["a3"]
    assert stream.sequence_numbers() == numbers[2:]
    # an iterator into what was trimmed reads on from what is kept
    after_first = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": numbers[0]}
    assert stream.read(**after_first) == ["a3"]
    # and the next change takes the next sequence number
    put(tables, "a4")
    assert stream.sequence_numbers() == [numbers[2], str(int(numbers[2]) + 1)]
    latest = stream.client.get_shard_iterator(
        StreamArn=stream.arn, ShardId=stream.shard, ShardIteratorType="LATEST"
    )["ShardIterator"]
    put(tables, "a5")
    assert [
        r["dynamodb"]["Keys"]["id"]["S"]
        for r in stream.client.get_records(ShardIterator=latest)["Records"]
    ] == ["a5"]


def test_records_older_than_24_hours_are_dropped_unread(tables, monkeypatch):
    stream = Stream(tables)
    put(tables, "old")
    later = utcnow() + timedelta(hours=24, minutes=1)
    monkeypatch.setattr(retention, "utcnow", lambda: later)
    assert stream.read() == []


def test_shard_iterators_are_forgotten_after_15_minutes(tables, monkeypatch):
    stream = Stream(tables)
    now = [0.0]
    monkeypatch.setattr(retention, "clock", lambda: now[0])
    for _ in range(50):  # each read: an iterator asked for, and the next one given
        stream.read()
        now[0] += 60.0
    iterators = dynamodbstreams_backends["123456789012"]["us-east-1"].shard_iterators
    assert 0 < len(iterators) <= 2 * 16  # what was given in the last 15 minutes


def test_moto_keeps_no_item_it_no_longer_stores(tables):
    """moto made a copy of an item for each write, condition and stream record, and kept every
    one for ever (its instance tracking, stopped by local/untracked.py): a stack left running
    all day held them all. Once an item is deleted, and its stream records read, none is left."""
    put(tables, "kept-1")
    key = to_item({"owner": "alice", "id": "kept-1"})
    for count in range(20):
        tables.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET #count = :count",
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":count": {"N": str(count)}},
        )
    tables.delete_item(TableName=TABLE, Key=key)
    stream = Stream(tables)
    assert stream.read()  # the records, read...
    retention.read_through(TABLE, stream.sequence_numbers()[-1])
    assert stream.read() == []  # ...and trimmed
    gc.collect()
    left = [
        item
        for item in gc.get_objects()
        if isinstance(item, Item) and item.hash_key == DynamoType({"S": "alice"})
    ]
    assert left == []


def test_a_moto_the_patches_were_not_written_for_is_refused_naming_each_patch():
    from local import moto_patches

    moto_patches.check(moto_patches.MOTO_VERSION)  # the pinned one passes
    with pytest.raises(moto_patches.UnsupportedMoto) as refused:
        moto_patches.check("5.3.0")
    message = str(refused.value)
    assert "moto 5.3.0 is installed" in message
    for patch in moto_patches.PATCHES:
        assert f"local/{patch.module}.py" in message
        assert patch.test in message


def test_the_pinned_moto_is_the_one_the_patches_were_written_for():
    from pathlib import Path

    from local import moto_patches

    root = Path(moto_patches.__file__).parents[1]
    pins = (root / "requirements-dev.txt").read_text()
    assert f"moto[server,dynamodb,cognitoidp,secretsmanager]=={moto_patches.MOTO_VERSION}" in pins
