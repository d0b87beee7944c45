"""TransactWriteItems in moto as DynamoDB answers it (local/transactions.py, installed for every
test by conftest.py): a retry with the client token of a committed transaction succeeds without
applying it twice, and a cancelled transaction is undone item by item, without a table copy."""

import copy
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models import Table, dynamodb_backends
from moto.dynamodb.responses import DynamoHandler

import local.transactions
from database.client import to_item
from local.aws import MotoServer
from support import snapshot

TABLE = "test-availabilities"


def booking(availability_id: str, participant: str = "bob") -> list[dict]:
    """A transaction that only succeeds once: the item must not exist yet."""
    return [
        {
            "Put": {
                "TableName": TABLE,
                "Item": to_item(
                    {"owner": "alice", "id": availability_id, "participant": participant}
                ),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        },
        {
            "Update": {
                "TableName": "test-users",
                "Key": to_item({"username": "alice"}),
                "UpdateExpression": "ADD bookings :one",
                "ExpressionAttributeValues": to_item({":one": 1}),
            }
        },
    ]


def bookings(tables) -> int:
    item = tables.get_item(TableName="test-users", Key=to_item({"username": "alice"}))["Item"]
    return int(item["bookings"]["N"])


def stream_records(tables) -> list[dict]:
    streams = boto3.client("dynamodbstreams")
    arn = tables.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return streams.get_records(ShardIterator=iterator)["Records"]


def test_a_retry_of_a_committed_transaction_with_its_token_succeeds_once(tables):
    # GIVEN a transaction that committed (its answer lost, say, to a read timeout)
    tables.transact_write_items(TransactItems=booking("a1"), ClientRequestToken="token-1")
    state = snapshot(tables)
    # WHEN the client retries it with the same token
    answer = tables.transact_write_items(TransactItems=booking("a1"), ClientRequestToken="token-1")
    # THEN it succeeds and nothing is applied twice
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert snapshot(tables) == state
    assert bookings(tables) == 1
    # and without the token it is a new transaction, whose condition fails
    with pytest.raises(ClientError) as error:
        tables.transact_write_items(TransactItems=booking("a1"))
    assert error.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_the_token_with_other_parameters_is_refused(tables):
    tables.transact_write_items(TransactItems=booking("a1"), ClientRequestToken="token-1")
    state = snapshot(tables)
    with pytest.raises(ClientError) as error:
        tables.transact_write_items(TransactItems=booking("a2"), ClientRequestToken="token-1")
    assert error.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert snapshot(tables) == state


def test_a_token_is_honoured_for_binary_attributes(tables):
    """B and BS values (bytes once moto parses them) are parameters like any other."""

    def put(data: bytes) -> list[dict]:
        item = {
            "owner": {"S": "alice"},
            "id": {"S": "b1"},
            "blob": {"B": data},
            "blobs": {"BS": [data, b"\xff"]},
        }
        return [{"Put": {"TableName": TABLE, "Item": item}}]

    tables.transact_write_items(TransactItems=put(b"\x00\x01"), ClientRequestToken="token-b")
    tables.transact_write_items(TransactItems=put(b"\x00\x01"), ClientRequestToken="token-b")
    with pytest.raises(ClientError) as error:
        tables.transact_write_items(TransactItems=put(b"\x00\x02"), ClientRequestToken="token-b")
    assert error.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"


def test_after_ten_minutes_the_token_is_a_new_request(tables, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(local.transactions, "clock", lambda: now[0])
    tables.transact_write_items(TransactItems=booking("a1"), ClientRequestToken="token-1")
    now[0] += local.transactions.TOKEN_SECONDS + 1
    with pytest.raises(ClientError) as error:
        tables.transact_write_items(TransactItems=booking("a1"), ClientRequestToken="token-1")
    assert error.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert bookings(tables) == 1


def test_a_cancelled_transaction_is_not_remembered_by_its_token(tables):
    tables.put_item(TableName=TABLE, Item=to_item({"owner": "alice", "id": "a1"}))
    with pytest.raises(ClientError):
        tables.transact_write_items(TransactItems=booking("a1"), ClientRequestToken="token-1")
    tables.delete_item(TableName=TABLE, Key=to_item({"owner": "alice", "id": "a1"}))
    # The same token again: tried anew, and this time it commits.
    tables.transact_write_items(TransactItems=booking("a1"), ClientRequestToken="token-1")
    assert bookings(tables) == 1


def test_a_cancelled_transaction_is_undone_item_by_item_without_copying_tables(tables, monkeypatch):
    # GIVEN items to change, delete and add, and a last condition that fails
    tables.put_item(TableName=TABLE, Item=to_item({"owner": "alice", "id": "kept", "n": 1}))
    tables.put_item(TableName=TABLE, Item=to_item({"owner": "alice", "id": "gone", "n": 1}))
    before, records = snapshot(tables), stream_records(tables)
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    table = backend.tables[TABLE]
    copied = []
    deepcopy = copy.deepcopy
    monkeypatch.setattr(
        copy, "deepcopy", lambda value, *rest: copied.append(type(value)) or deepcopy(value, *rest)
    )
    key = {"owner": "alice"}
    # WHEN a transaction changes all three and is cancelled by its last item
    with pytest.raises(ClientError) as error:
        tables.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": to_item({**key, "id": "kept"}),
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": to_item({":two": 2}),
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": to_item({**key, "id": "gone"})}},
                {"Put": {"TableName": TABLE, "Item": to_item({**key, "id": "new"})}},
                {
                    "ConditionCheck": {
                        "TableName": "test-users",
                        "Key": to_item({"username": "nobody"}),
                        "ConditionExpression": "attribute_exists(username)",
                    }
                },
            ]
        )
    # THEN moto's cancellation reasons, and every item and the stream as before
    reasons = [reason["Code"] for reason in error.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert snapshot(tables) == before
    assert stream_records(tables) == records
    # the table itself kept (moto would put a copy of it in its place), none copied
    assert backend.tables[TABLE] is table
    assert Table not in copied


def test_a_committed_transaction_writes_its_stream_records(tables):
    before = len(stream_records(tables))
    tables.transact_write_items(TransactItems=booking("a1"))
    records = stream_records(tables)[before:]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records] == [
        ("INSERT", "a1")
    ]


def test_a_transaction_answered_after_the_read_timeout_is_retried_to_success(monkeypatch):
    # GIVEN moto's server (as `make run` serves it) and a client with a short read timeout
    server = MotoServer(0)
    client = boto3.client(
        "dynamodb",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(read_timeout=1, retries={"mode": "standard", "max_attempts": 3}),
    )
    name = "late-answers"
    key = [{"AttributeName": "id", "KeyType": "HASH"}]
    client.create_table(
        TableName=name,
        KeySchema=key,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # whose first transaction commits but answers after the client gave up on it
    answer = DynamoHandler.transact_write_items
    late = [1.5]

    def answered_late(self):
        result = answer(self)
        if late:
            time.sleep(late.pop())
        return result

    monkeypatch.setattr(DynamoHandler, "transact_write_items", answered_late)
    try:
        # WHEN botocore retries it (with the same ClientRequestToken)
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": name,
                        "Item": {"id": {"S": "a1"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                }
            ]
        )
        # THEN the retry answers the first attempt's success (not a failed condition)
        assert late == []
        assert client.get_item(TableName=name, Key={"id": {"S": "a1"}})["Item"]
    finally:
        client.delete_table(TableName=name)
        server.stop()
