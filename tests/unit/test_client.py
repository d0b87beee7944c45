"""The DynamoDB client: one per container, explicit retries and timeouts, local endpoints."""

from database.client import dynamodb, from_item, to_item


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
