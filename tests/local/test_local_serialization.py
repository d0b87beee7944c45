"""moto's answers with local/serialization.py's patch are byte for byte moto's own: every answer
below is serialised twice, by moto's attribute picker and by the patch's, and must not differ;
items of every DynamoDB type, nested, paged, in transactions and streams. (The other services
this project uses answer through moto's older templates, not its serialiser.)"""

import inspect

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import responses as moto_responses
from moto.core import serialize
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler

import local.serialization as serialization
from database.client import to_item

TABLE = "test-meetings"
EVERY_TYPE = {
    "S": {"S": "text"},
    "N": {"N": "12.5"},
    "B": {"B": b"\x00\x01"},
    "SS": {"SS": ["a", "b"]},
    "NS": {"NS": ["1", "2"]},
    "BS": {"BS": [b"x", b"y"]},
    "NULL": {"NULL": True},
    "BOOL": {"BOOL": False},
    "L": {"L": [{"S": "a"}, {"M": {"n": {"N": "1"}, "l": {"L": [{"BOOL": True}]}}}]},
    "M": {"M": {"inner": {"M": {"deeper": {"SS": ["z"]}}}, "empty": {"M": {}}}},
}


@pytest.fixture
def compared(monkeypatch):
    """The operations whose answers were serialised both ways (and found equal)."""
    operations: list[str] = []
    execute = ActionResult.execute_result

    def twice(self, context):
        monkeypatch.setattr(serialize.XFormedAttributePicker, "__call__", serialization._picked)
        theirs = execute(self, context)
        monkeypatch.setattr(serialize.XFormedAttributePicker, "__call__", serialization._pick)
        ours = execute(self, context)
        assert ours == theirs, context.operation_model.name
        operations.append(context.operation_model.name)
        return ours

    monkeypatch.setattr(ActionResult, "execute_result", twice)
    return operations


def meeting(number: int) -> dict:
    return {"id": {"S": f"m{number}"}, **EVERY_TYPE}


def test_dynamodb_answers_are_moto_own(tables, compared):
    for number in range(3):
        tables.put_item(TableName=TABLE, Item=meeting(number))
    tables.get_item(TableName=TABLE, Key={"id": {"S": "m1"}}, ReturnConsumedCapacity="TOTAL")
    page = tables.scan(TableName=TABLE, Limit=2, ReturnConsumedCapacity="INDEXES")
    assert "LastEvaluatedKey" in page
    tables.update_item(
        TableName=TABLE,
        Key={"id": {"S": "m2"}},
        UpdateExpression="SET #n = :n REMOVE SS",
        ExpressionAttributeNames={"#n": "N"},
        ExpressionAttributeValues={":n": {"N": "3"}},
        ReturnValues="ALL_NEW",
    )
    tables.delete_item(TableName=TABLE, Key={"id": {"S": "m0"}}, ReturnValues="ALL_OLD")
    with pytest.raises(ClientError):  # an error's answer, its old item returned
        tables.put_item(
            TableName=TABLE,
            Item=meeting(1),
            ConditionExpression="attribute_not_exists(id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    with pytest.raises(ClientError):  # canceled, with a reason per action
        tables.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": meeting(4)}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"id": {"S": "m1"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    tables.transact_get_items(
        TransactItems=[{"Get": {"TableName": TABLE, "Key": {"id": {"S": "m1"}}}}]
    )
    tables.batch_get_item(
        RequestItems={TABLE: {"Keys": [{"id": {"S": "m1"}}, {"id": {"S": "m2"}}]}}
    )
    tables.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": meeting(5)}}]})
    tables.describe_table(TableName=TABLE)
    tables.describe_time_to_live(TableName=TABLE)
    tables.list_tables()

    assert {
        "PutItem",
        "GetItem",
        "Scan",
        "UpdateItem",
        "DeleteItem",
        "TransactGetItems",
        "BatchGetItem",
        "BatchWriteItem",
        "DescribeTable",
        "DescribeTimeToLive",
        "ListTables",
    } <= set(compared)


def test_stream_answers_are_moto_own(tables, compared):
    tables.put_item(TableName=TABLE, Item=to_item({"id": "m1", "players": ["a", "b"]}))
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = tables.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert streams.get_records(ShardIterator=iterator)["Records"]

    assert {"DescribeStream", "GetShardIterator", "GetRecords"} <= set(compared)


def test_a_handler_class_has_the_methods_moto_finds_by_inspection():
    cached = moto_responses.method_names_from_class
    assert hasattr(cached, "cache_info")  # the patch is installed (conftest.py)
    found = [name for name, _ in inspect.getmembers(DynamoHandler, inspect.isfunction)]
    assert cached(DynamoHandler) == found
