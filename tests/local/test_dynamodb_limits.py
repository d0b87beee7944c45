"""moto refuses what DynamoDB refuses for size (local/dynamodb_limits.py), through boto3 on the
handler tests' tables: keys over 2048 / 1024 bytes and items over 400 KB, with DynamoDB's
ValidationException and messages, and nothing written."""

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws import start_moto
from support import create_tables

USERS, AVAILABILITIES, MEETINGS = "test-users", "test-availabilities", "test-meetings"
HASH_KEY_TOO_LONG = (
    "One or more parameter values were invalid: "
    "Size of hashkey has exceeded the maximum size limit of2048 bytes"
)
RANGE_KEY_TOO_LONG = (
    "One or more parameter values were invalid: "
    "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
)
LONG_PARTITION = {"S": "p" * 2049}
LONG_SORT = {"S": "s" * 1025}


def refused(call, message: str) -> None:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationException", message)


def test_keys_at_the_limits_are_accepted(tables):
    tables.put_item(
        TableName=AVAILABILITIES, Item={"owner": {"S": "p" * 2048}, "id": {"S": "s" * 1024}}
    )
    key = {"owner": {"S": "p" * 2048}, "id": {"S": "s" * 1024}}
    assert tables.get_item(TableName=AVAILABILITIES, Key=key)["Item"] == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ({"owner": LONG_PARTITION, "id": {"S": "a"}}, HASH_KEY_TOO_LONG),
        ({"owner": {"S": "alice"}, "id": LONG_SORT}, RANGE_KEY_TOO_LONG),
    ],
)
def test_every_request_naming_a_key_over_the_limits_is_refused(tables, key, message):
    # GIVEN an item whose key is over DynamoDB's limits (moto used to find "no such item")
    table = {"TableName": AVAILABILITIES}
    update = {"UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "status"}}
    update["ExpressionAttributeValues"] = {":s": {"S": "SCHEDULED"}}
    calls = [
        lambda: tables.put_item(**table, Item=key),
        lambda: tables.get_item(**table, Key=key),
        lambda: tables.delete_item(**table, Key=key),
        lambda: tables.update_item(**table, Key=key, **update),
        lambda: tables.batch_get_item(RequestItems={AVAILABILITIES: {"Keys": [key]}}),
        lambda: tables.batch_write_item(
            RequestItems={AVAILABILITIES: [{"PutRequest": {"Item": key}}]}
        ),
        lambda: tables.transact_get_items(TransactItems=[{"Get": {**table, "Key": key}}]),
        lambda: tables.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        **table,
                        "Key": key,
                        "ConditionExpression": "attribute_exists(id)",
                    }
                }
            ]
        ),
        lambda: tables.transact_write_items(TransactItems=[{"Delete": {**table, "Key": key}}]),
        lambda: tables.transact_write_items(TransactItems=[{"Put": {**table, "Item": key}}]),
        lambda: tables.transact_write_items(
            TransactItems=[{"Update": {**table, "Key": key, **update}}]
        ),
    ]
    # WHEN each request names it THEN DynamoDB's ValidationException, and nothing is written
    for call in calls:
        refused(call, message)
    assert tables.scan(**table)["Count"] == 0


def test_a_query_with_a_key_value_over_the_limits_is_refused(tables):
    refused(
        lambda: tables.query(
            TableName=AVAILABILITIES,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": LONG_PARTITION},
        ),
        HASH_KEY_TOO_LONG,
    )
    refused(
        lambda: tables.query(
            TableName=MEETINGS,
            IndexName="JoinedIndex",
            KeyConditionExpression="joinedBy = :j AND startTime >= :t",
            ExpressionAttributeValues={":j": {"S": "alice"}, ":t": LONG_SORT},
        ),
        RANGE_KEY_TOO_LONG,
    )


def test_an_index_key_over_the_limits_is_refused_naming_the_index(tables):
    item = {"id": {"S": "m1"}, "owner": LONG_PARTITION}
    refused(
        lambda: tables.put_item(TableName=MEETINGS, Item=item),
        "One or more parameter values were invalid: Size limit exceeded for Index Key owner "
        "Actual Size: 2049 bytes Max Size: 2048 bytes IndexName: OwnerIndex",
    )
    item = {"id": {"S": "m1"}, "joinedBy": {"S": "alice"}, "startTime": LONG_SORT}
    refused(
        lambda: tables.put_item(TableName=MEETINGS, Item=item),
        "One or more parameter values were invalid: Size limit exceeded for Index Key startTime "
        "Actual Size: 1025 bytes Max Size: 1024 bytes IndexName: JoinedIndex",
    )
    assert tables.scan(TableName=MEETINGS)["Count"] == 0


def _item_of(size: int) -> dict:
    """A users item of exactly `size` bytes as DynamoDB counts them (names and values)."""
    fixed = len("username") + len("u") + len("pad")
    return {"username": {"S": "u"}, "pad": {"S": "x" * (size - fixed)}}


def test_items_up_to_400_kb_are_accepted_and_larger_ones_refused(tables):
    tables.put_item(TableName=USERS, Item=_item_of(400 * 1024))  # moto refused it (405,000)
    refused(
        lambda: tables.put_item(TableName=USERS, Item=_item_of(400 * 1024 + 1)),
        "Item size has exceeded the maximum allowed size",
    )
    refused(
        lambda: tables.update_item(
            TableName=USERS,
            Key={"username": {"S": "u"}},
            UpdateExpression="SET more = :m",
            ExpressionAttributeValues={":m": {"S": "y"}},
        ),
        "Item size to update has exceeded the maximum allowed size",
    )
    refused(
        lambda: tables.transact_write_items(
            TransactItems=[{"Put": {"TableName": USERS, "Item": _item_of(400 * 1024 + 1)}}]
        ),
        "Item size has exceeded the maximum allowed size",
    )
    stored = tables.get_item(TableName=USERS, Key={"username": {"S": "u"}})["Item"]
    assert stored == _item_of(400 * 1024)


def test_the_local_stacks_moto_server_refuses_them_too():
    # `make run`'s DynamoDB: moto's server in this process (local/aws.py applies the limits).
    server, url = start_moto(0)
    try:
        client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
        create_tables(client)
        refused(
            lambda: client.get_item(
                TableName=AVAILABILITIES, Key={"owner": LONG_PARTITION, "id": {"S": "a"}}
            ),
            HASH_KEY_TOO_LONG,
        )
    finally:
        server.stop()
