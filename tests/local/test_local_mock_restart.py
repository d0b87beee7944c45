"""A new moto per test without registering moto's `requests` callbacks again
(local/mock_restart.py, installed by conftest.py): each start is empty, the patching is on only
while a mock is active, and `requests` calls to AWS are answered by moto on every start."""

import json

import boto3
import requests
from moto import mock_aws
from moto.core import models

ORIGINAL_SEND = requests.adapters.HTTPAdapter.send


def list_tables_over_requests() -> list[str]:
    """DynamoDB's ListTables through `requests`, not botocore: what moto's callbacks answer."""
    answer = requests.post(
        "https://dynamodb.us-east-1.amazonaws.com/",
        data="{}",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=host, Signature=x",
        },
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text)["TableNames"]


def create_table(name: str) -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_every_start_is_a_new_empty_moto_answering_requests_too():
    for name in ("first", "second", "third"):
        with mock_aws():
            assert list_tables_over_requests() == []  # nothing of the mock before
            create_table(name)
            assert list_tables_over_requests() == [name]


def test_the_patching_is_on_only_while_a_mock_is_active():
    with mock_aws():
        assert models.botocore_stubber.enabled
        assert requests.adapters.HTTPAdapter.send is not ORIGINAL_SEND
    assert not models.botocore_stubber.enabled
    assert requests.adapters.HTTPAdapter.send is ORIGINAL_SEND


def test_a_registry_emptied_by_someone_else_is_filled_again():
    with mock_aws():
        pass
    models.responses_mock.reset()  # as moto's own reset() does
    with mock_aws():
        assert list_tables_over_requests() == []
