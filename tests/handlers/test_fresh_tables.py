"""The `tables` fixture (tests/conftest.py, support.FreshTables): every test starts on
serverless.yml's tables as create_tables makes them, empty, whatever a test before it wrote,
streamed or changed in the same process."""

import botocore.session
import pytest
from moto import mock_aws

from support import TABLE_NAMES, FreshTables, scanned, snapshot

EMPTY = {name: [] for name in TABLE_NAMES.values()}


def new_clients():
    session = botocore.session.get_session()
    return session.create_client("dynamodb"), session.create_client("dynamodbstreams")


def described(client) -> dict[str, tuple[dict, dict]]:
    """Each table as DynamoDB describes it (keys, indexes, stream, billing) and its TTL."""
    return {
        name: (
            client.describe_table(TableName=name)["Table"],
            client.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
        )
        for name in TABLE_NAMES.values()
    }


def stream_records(client, streams) -> dict[str, list]:
    """Every record in each streamed table's stream, from its first."""
    records = {}
    for name in TABLE_NAMES.values():
        arn = client.describe_table(TableName=name)["Table"].get("LatestStreamArn")
        if arn is None:
            continue
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            records.setdefault(name, []).extend(
                streams.get_records(ShardIterator=iterator)["Records"]
            )
    return records


def write_everywhere(client) -> None:
    """An item in every table (a stream record in each streamed one), and a TTL turned off."""
    for name, (table, ttl) in described(client).items():
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        key = {k["AttributeName"]: {types[k["AttributeName"]]: "1"} for k in table["KeySchema"]}
        client.put_item(TableName=name, Item=key)
        if ttl["TimeToLiveStatus"] == "ENABLED":
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": False},
            )


def test_a_later_tests_tables_are_the_first_ones_made_and_hold_nothing_of_it():
    fresh = FreshTables()
    with mock_aws():  # the process's first test: create_tables itself
        client, streams = new_clients()
        fresh.make(client)
        made = described(client)
        assert snapshot(client) == EMPTY
        write_everywhere(client)
        assert snapshot(client) != EMPTY
        assert any(stream_records(client, streams).values())
        assert described(client) != made

    with mock_aws():  # a later test: the copy
        client, streams = new_clients()
        fresh.make(client)

        assert snapshot(client) == EMPTY
        records = stream_records(client, streams)
        assert records and not any(records.values())
        assert described(client) == made
        # and a copy is the next test's alone
        write_everywhere(client)

    with mock_aws():
        client, streams = new_clients()
        fresh.make(client)

        assert snapshot(client) == EMPTY
        assert not any(stream_records(client, streams).values())
        assert described(client) == made


def test_tables_are_made_only_in_a_moto_without_any():
    fresh = FreshTables()
    with mock_aws():
        client, _ = new_clients()
        fresh.make(client)
        with pytest.raises(RuntimeError, match="has no tables"):
            fresh.make(client)


@pytest.mark.parametrize("test", range(4))
def test_each_test_starts_on_empty_tables_and_streams(tables, test):
    # Several tests of one process, in any order: each finds nothing and leaves something.
    streams = botocore.session.get_session().create_client("dynamodbstreams")
    assert snapshot(tables) == EMPTY
    assert not any(stream_records(tables, streams).values())
    write_everywhere(tables)


def test_a_snapshot_is_what_the_scans_return(tables):
    """support.snapshot reads moto's memory; it must be every table's Scan, item for item."""
    write_everywhere(tables)
    nested = {
        "username": {"S": "nested"},
        "n": {"N": "1.50"},
        "flag": {"BOOL": False},
        "none": {"NULL": True},
        "names": {"SS": ["b", "a"]},
        "numbers": {"NS": ["2", "10"]},
        "list": {"L": [{"S": "x"}, {"M": {"deep": {"L": [{"N": "3"}]}}}]},
        "map": {"M": {"empty": {"M": {}}, "set": {"SS": ["z"]}}},
    }
    tables.put_item(TableName=TABLE_NAMES["UsersTable"], Item=nested)

    assert snapshot(tables) == scanned(tables)
    assert any(len(items) == 2 for items in snapshot(tables).values())
