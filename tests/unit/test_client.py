"""The DynamoDB client: one per container, explicit retries and timeouts, local endpoints."""

import pytest
from botocore.exceptions import ClientError

from database.client import conditional, dynamodb, from_item, to_item


def test_one_client_per_container_with_explicit_retries_and_timeouts(monkeypatch):
    dynamodb.cache_clear()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    try:
        client = dynamodb()

        assert dynamodb() is client
        assert client.meta.endpoint_url == "http://127.0.0.1:4566"
        assert client.meta.config.retries["mode"] == "standard"
        assert client.meta.config.connect_timeout <= 5
        assert client.meta.config.read_timeout <= 5
    finally:
        dynamodb.cache_clear()


def test_items_round_trip():
    values = {"username": "alice", "expirationTime": 1893672000, "types": ["BOOK_STUDY"]}

    assert to_item(values) == {
        "username": {"S": "alice"},
        "expirationTime": {"N": "1893672000"},
        "types": {"L": [{"S": "BOOK_STUDY"}]},
    }
    assert from_item(to_item(values)) == values


def _raises(code: str):
    def write(**request):
        raise ClientError({"Error": {"Code": code, "Message": "m"}}, "UpdateItem")

    return write


def test_a_conditional_write_is_its_answer_or_none_when_its_condition_did_not_hold():
    assert conditional(lambda **request: {"Attributes": request}, Key=1) == {
        "Attributes": {"Key": 1}
    }
    assert conditional(_raises("ConditionalCheckFailedException"), Key=1) is None


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "InternalServerError", "ValidationException"]
)
def test_any_other_failure_of_a_conditional_write_is_raised(code):
    """Only a condition that did not hold is an answer: a throttle, a fault or a refused request
    must reach the caller, never read as a lost race (which changes nothing and is not retried)."""
    with pytest.raises(ClientError) as raised:
        conditional(_raises(code), Key=1)
    assert raised.value.response["Error"]["Code"] == code
