"""botocore's parameter validation: on in every test and in `make run`, so a malformed AWS call
fails where code is written (ParamValidationError), off in deployed functions only (speed)."""

import pytest
from botocore.exceptions import ParamValidationError

from api import secrets
from database import client
from database.client import dynamodb


def test_a_malformed_dynamodb_call_fails_before_it_is_sent(tables):
    with pytest.raises(ParamValidationError, match="Item.username"):
        # a plain value where DynamoDB takes an attribute value ({"S": "alice"})
        dynamodb().put_item(TableName="test-users", Item={"username": "alice"})
    with pytest.raises(ParamValidationError, match="Limit"):
        dynamodb().query(TableName="test-users", Limit="10")
    assert tables.scan(TableName="test-users")["Items"] == []


def test_validation_is_off_in_a_deployed_function_only(monkeypatch):
    assert client.CONFIG.parameter_validation is True
    assert secrets.CONFIG.parameter_validation is True
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")  # as Lambda sets it
    assert client.parameter_validation() is False
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE")
    assert client.parameter_validation() is True
