"""`make run`'s notifications: the stream poller (local/streams.py) on moto's DynamoDB Streams,
and the Discord stand-in (local/discord.py). End to end: tests/e2e/test_local_stack.py."""

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from database.client import to_item
from local.discord import CHANNEL_ID, GUILD_ID, PATH, TOKEN, DiscordStandIn, settings
from local.events import HttpRequest
from local.lambdas import FunctionError
from local.streams import ShardReader, StreamPoller, first_failure

# --- the stream poller ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Function:
    """What the poller invokes: records each event and answers `answer(event)` (success)."""

    def __init__(self, answer: Callable[[dict], Any] = lambda event: {"batchItemFailures": []}):
        self.events: list[dict] = []
        self.answer = answer

    def __call__(self, event: dict) -> Any:
        json.dumps(event)  # what crosses into an execution environment is JSON
        self.events.append(event)
        return self.answer(event)

    def batches(self) -> list[list[str]]:
        """The availability ids of each invocation's records."""
        return [
            [record["dynamodb"]["Keys"]["id"]["S"] for record in event["Records"]]
            for event in self.events
        ]


def reader(tables, function: Function, clock: Clock, max_retries: int = 2) -> ShardReader:
    streams = boto3.client("dynamodbstreams")
    arn = tables.describe_table(TableName="test-availabilities")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    label = "notify <- test-availabilities"
    return ShardReader(label, arn, shard["ShardId"], streams, function, 10, max_retries, clock)


def put(tables, *ids: str) -> None:
    for availability_id in ids:
        item = {"owner": "alice", "id": availability_id, "status": "SCHEDULED"}
        tables.put_item(TableName="test-availabilities", Item=to_item(item))


def test_records_reach_the_function_in_lambdas_event_shape(tables):
    put(tables, "before")  # the poller reads from LATEST: what was written before is not sent
    function, clock = Function(), Clock()
    shard = reader(tables, function, clock)
    put(tables, "a1")
    tables.update_item(
        TableName="test-availabilities",
        Key=to_item({"owner": "alice", "id": "a1"}),
        UpdateExpression="SET #s = :booked",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({":booked": "BOOKED"}),
    )
    shard.step()
    assert function.batches() == [["a1", "a1"]]
    inserted, modified = function.events[0]["Records"]
    assert inserted["eventSourceARN"] == shard.stream_arn
    assert ":table/test-availabilities/stream/" in shard.stream_arn  # where notify reads the table
    assert (inserted["eventName"], inserted["eventSource"]) == ("INSERT", "aws:dynamodb")
    change = modified["dynamodb"]
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert (change["OldImage"]["status"], change["NewImage"]["status"]) == (
        {"S": "SCHEDULED"},
        {"S": "BOOKED"},
    )
    assert isinstance(change["ApproximateCreationDateTime"], float)  # epoch seconds, as Lambda
    shard.step()
    assert len(function.events) == 1  # nothing new, no invocation


def test_changes_after_a_failed_transaction_are_read(tables):
    # moto rolls a failed transaction back by putting a copy of the table (and of its stream)
    # in its place: the poller must read the table's current stream, not the one it started on
    function, clock = Function(), Clock()
    shard = reader(tables, function, clock)
    shard.step()
    put(tables, "a1")
    shard.step()
    with pytest.raises(tables.exceptions.TransactionCanceledException):
        tables.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": "test-availabilities",
                        "Item": to_item({"owner": "alice", "id": "a1"}),
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                }
            ]
        )
    put(tables, "a2")
    shard.step()
    assert function.batches() == [["a1"], ["a2"]]


def test_reported_failures_are_retried_from_the_first_then_given_up(tables, caplog):
    def fail_a2(event: dict) -> dict:
        record = next(r for r in event["Records"] if r["dynamodb"]["Keys"]["id"]["S"] == "a2")
        return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}

    function, clock = Function(fail_a2), Clock()
    shard = reader(tables, function, clock, max_retries=2)
    put(tables, "a1", "a2", "a3")
    with caplog.at_level(logging.INFO, logger="local"):
        shard.step()
        put(tables, "a4")
        shard.step()  # the retry is not due yet: nothing newer is read before it
        clock.now += 1
        shard.step()
        clock.now += 2
        shard.step()
    assert function.batches() == [["a1", "a2", "a3"], ["a2", "a3"], ["a2", "a3"]]
    assert "gave up on 2 records" in caplog.text
    function.answer = Function().answer
    shard.step()  # the shard moves on
    assert function.batches()[-1] == ["a4"]


def test_a_function_error_retries_the_whole_batch(tables):
    def time_out_once(event: dict) -> dict:
        if len(function.events) == 1:
            raise FunctionError("Sandbox.Timedout", "Task timed out after 300.00 seconds")
        return {"batchItemFailures": []}

    function, clock = Function(time_out_once), Clock()
    shard = reader(tables, function, clock)
    put(tables, "a1", "a2")
    shard.step()
    clock.now += 1
    shard.step()
    assert function.batches() == [["a1", "a2"], ["a1", "a2"]]
    assert not shard.pending


def test_a_backlog_is_read_batch_after_batch_without_pausing(tables):
    """A full batch is followed at once by the next read, as Lambda's poller does; the pause
    comes when the shard is drained. (With a pause after every batch, a busy stream falls
    behind, and its records, trimmed only once read, pile up in memory.)"""
    function = Function()
    shard = reader(tables, function, Clock())
    put(tables, *(f"a{index:02}" for index in range(25)))
    poller = StreamPoller([shard], "notify <- test-availabilities", interval=3600)
    poller.start()
    try:
        deadline = time.monotonic() + 30  # far below the 2 hours three paused reads take
        while len(function.events) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
        poller.join(5)
    assert [len(batch) for batch in function.batches()] == [10, 10, 5]


@pytest.mark.parametrize(
    ("failures", "first"),
    [
        ([], None),
        ([{"itemIdentifier": "3"}, {"itemIdentifier": "2"}], 1),
        ([{"itemIdentifier": "9"}], 0),
    ],
)
def test_first_failure_of_an_answer(failures, first):
    records = [{"dynamodb": {"SequenceNumber": number}} for number in ("1", "2", "3")]
    assert first_failure({"batchItemFailures": failures}, records) == first
    assert first_failure(None, records) is None


# --- the Discord stand-in ------------------------------------------------------------------


def call(discord: DiscordStandIn, method: str, path: str, body=None, token: str = TOKEN):
    request = HttpRequest(
        method=method,
        target=PATH + path,
        headers=[("Authorization", f"Bot {token}")],
        body=b"" if body is None else json.dumps(body).encode(),
        source_ip="127.0.0.1",
        protocol="HTTP/1.1",
    )
    response = discord.handle(request)
    return response.status, json.loads(response.body) if response.body else None


def test_the_stand_in_answers_as_discord_and_keeps_what_was_sent(caplog):
    discord = DiscordStandIn()
    assert (
        call(discord, "GET", f"/guilds/{GUILD_ID}/members/search?query=x", token="other")[0] == 401
    )

    # Every name is a member; a DM channel is opened once per user
    status, members = call(
        discord, "GET", f"/guilds/{GUILD_ID}/members/search?query=alice_dojo&limit=100"
    )
    assert status == 200
    [member] = members
    assert member["user"]["username"] == "alice_dojo"
    status, channel = call(
        discord, "POST", "/users/@me/channels", {"recipient_id": member["user"]["id"]}
    )
    assert (status, channel["type"]) == (200, 1)
    assert (
        call(discord, "POST", "/users/@me/channels", {"recipient_id": member["user"]["id"]})[1]
        == channel
    )

    with caplog.at_level(logging.INFO, logger="local"):
        status, message = call(
            discord, "POST", f"/channels/{channel['id']}/messages", {"content": "bob booked"}
        )
        assert (status, message["channel_id"], message["content"]) == (
            200,
            channel["id"],
            "bob booked",
        )
        _, post = call(
            discord, "POST", f"/channels/{CHANNEL_ID}/messages", {"content": "New\nslot"}
        )
        post_path = f"/channels/{CHANNEL_ID}/messages/{post['id']}"
        status, edited = call(discord, "PATCH", post_path, {"content": "Edited"})
        assert (status, edited["content"]) == (200, "Edited")
        assert call(discord, "DELETE", post_path) == (204, None)
    assert "Discord DM to alice_dojo: bob booked" in caplog.text
    assert "New | slot" in caplog.text

    # A deleted message is Unknown Message; an unknown channel, Unknown Channel
    assert call(discord, "DELETE", post_path) == (
        404,
        {"message": "Unknown Message", "code": 10008},
    )
    assert call(discord, "PATCH", post_path, {"content": "x"})[1]["code"] == 10008
    assert call(discord, "POST", "/channels/123/messages", {"content": "x"})[1]["code"] == 10003

    # GET /_local/discord: the direct messages and the channel posts, deletions included
    status, sent = call(discord, "GET", "")
    assert status == 200
    assert [(m["to"], m["content"]) for m in sent["directMessages"]] == [
        ("alice_dojo", "bob booked")
    ]
    [kept] = sent["channelPosts"]
    assert (kept["content"], kept["edited_timestamp"] is not None, "deleted_at" in kept) == (
        "Edited",
        True,
        True,
    )


def test_a_real_bot_token_in_the_shell_is_used_instead_of_the_stand_in():
    local = settings({}, "http://127.0.0.1:4000")
    assert local["DISCORD_API_URL"] == "http://127.0.0.1:4000/_local/discord"
    assert (local["DISCORD_AUTH"], local["DISCORD_GUILD_ID"]) == (TOKEN, GUILD_ID)
    real = settings(
        {"DISCORD_AUTH": "bot-token", "DISCORD_GUILD_ID": "42", "DISCORD_CHANNEL_ID": "7"},
        "http://127.0.0.1:4000",
    )
    assert real == {
        "DISCORD_AUTH": "bot-token",
        "DISCORD_GUILD_ID": "42",
        "DISCORD_CHANNEL_ID": "7",
        "FRONTEND_HOST": "http://localhost:3000",
    }


def test_the_stand_in_keeps_the_latest_messages_only(monkeypatch):
    monkeypatch.setattr("local.discord.MAX_MESSAGES", 3)
    discord = DiscordStandIn()
    ids = [
        call(discord, "POST", f"/channels/{CHANNEL_ID}/messages", {"content": f"m{n}"})[1]["id"]
        for n in range(5)
    ]
    assert [m["content"] for m in call(discord, "GET", "")[1]["channelPosts"]] == [
        "m2",
        "m3",
        "m4",
    ]
    # the forgotten one is Unknown Message, as a deleted one would be
    path = f"/channels/{CHANNEL_ID}/messages/{ids[0]}"
    assert call(discord, "PATCH", path, {"content": "x"})[1]["code"] == 10008


def test_the_stand_in_posts_a_message_with_an_enforced_nonce_once():
    # Discord: with `enforce_nonce`, a second create with the same nonce returns the first
    # message (sendReminders resends safely); a nonce over 25 characters is a 400.
    discord = DiscordStandIn()
    _, [member] = call(discord, "GET", f"/guilds/{GUILD_ID}/members/search?query=rina")
    _, channel = call(
        discord, "POST", "/users/@me/channels", {"recipient_id": member["user"]["id"]}
    )
    path = f"/channels/{channel['id']}/messages"
    body = {"content": "Reminder", "nonce": "a" * 25, "enforce_nonce": True}
    first, again = call(discord, "POST", path, body), call(discord, "POST", path, body)
    assert first == again and first[0] == 200
    assert len(discord.sent()["directMessages"]) == 1
    assert call(discord, "POST", path, {**body, "nonce": "b"})[1]["id"] != first[1]["id"]
    assert call(discord, "POST", path, {**body, "nonce": "a" * 26})[0] == 400
    # without enforce_nonce, Discord posts again
    assert call(discord, "POST", path, {**body, "enforce_nonce": False})[1]["id"] != first[1]["id"]
