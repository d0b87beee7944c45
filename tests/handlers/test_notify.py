"""notify: Discord messages from the tables' change streams.

The changes are real: items are written to the moto tables (the stored shapes of contract
version 2) and moto's DynamoDB Streams records (NEW_AND_OLD_IMAGES) are handed to the function
as Lambda hands them over. Discord's REST API is mocked with `responses`, in the shapes of
Discord's API reference.
"""

import json
import logging
import re
import time

import pytest
import requests
import responses
from responses import matchers

from api import secrets
from database import notifications as store
from database.client import to_item
from handlers.availability import book
from handlers.availability import set as set_availability
from handlers.stream import notify
from local.streams import lambda_record
from notifications.changes import announcement, availability_changes, discord_time
from notifications.deliver import RESERVE_MS, Notifier, Settings
from notifications.discord import Discord
from support import (
    SilentServer,
    add_user,
    availability,
    body,
    http_event,
    put_secret,
    streams_client,
)

API = "https://discord.test/api/v10"
MESSAGES = re.compile(rf"{API}/channels/\d+/messages")
GUILD = "81384788765712384"
CHANNEL = "41771983423143937"
FRONTEND = "https://dojo.test"
# Guild members by Discord username -> user id.
MEMBERS = {"alice_dojo": "1001", "bob_dojo": "1002", "carol_dojo": "1003", "dave_dojo": "1004"}

START = "2030-01-01T09:00:00.000Z"
END = "2030-01-01T12:00:00.000Z"
WHEN = "<t:1893488400:f>"  # 2030-01-01 09:00 UTC


# --- fixtures: tables with streams, Discord, the function's settings ---------------------


class Streams:
    """The availabilities and meetings tables' streams, read as Lambda's poller reads them."""

    def __init__(self, client, streams_client) -> None:
        self.client = client
        self.streams = streams_client
        self.iterators = {}
        for table in ("test-availabilities", "test-meetings"):
            # serverless.yml's stream (NEW_AND_OLD_IMAGES), as local.aws creates it
            arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
            self.iterators[table] = (
                arn,
                self.streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"],
            )

    def take(self, table: str) -> list[dict]:
        """The records written to `table` since the last take, in Lambda's event shape."""
        arn, iterator = self.iterators[f"test-{table}"]
        result = self.streams.get_records(ShardIterator=iterator)
        self.iterators[f"test-{table}"] = (arn, result["NextShardIterator"])
        return [lambda_record(record, arn) for record in result["Records"]]


@pytest.fixture
def streams(tables):
    return Streams(tables, streams_client())


class DiscordApi:
    """Discord's REST API, mocked: guild member search, DM channels, channel messages."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        self.next_id = 9000
        mock.add_callback(
            responses.GET, f"{API}/guilds/{GUILD}/members/search", callback=self._search
        )
        mock.add_callback(responses.POST, f"{API}/users/@me/channels", callback=self._open_dm)
        self.add_messages()
        mock.add(responses.DELETE, re.compile(rf"{API}/channels/\d+/messages/\d+"), status=204)
        mock.add_callback(
            responses.PATCH, re.compile(rf"{API}/channels/\d+/messages/\d+"), callback=self._edit
        )

    def add_messages(self) -> None:
        self.mock.add_callback(responses.POST, MESSAGES, callback=self._post)

    def answer_messages(self, *answers: dict, then_succeed: bool = True) -> None:
        """Posting a message gets `answers` (mock.add arguments) in turn, then success.
        (responses uses a URL's registrations in order; the last one stays.)"""
        self.mock.remove(responses.POST, MESSAGES)
        for answer in answers:
            self.mock.add(responses.POST, MESSAGES, **answer)
        if then_succeed:
            self.add_messages()

    def _search(self, request):
        query = request.params["query"].lower()
        members = [
            {
                "user": {
                    "id": user_id,
                    "username": name,
                    "discriminator": "0",
                    "global_name": None,
                },
                "nick": None,
                "roles": [],
                "joined_at": "2022-01-01T00:00:00.000000+00:00",
                "deaf": False,
                "mute": False,
            }
            for name, user_id in MEMBERS.items()
            if name.startswith(query)
        ]
        return 200, {}, json.dumps(members)

    def _open_dm(self, request):
        recipient = json.loads(request.body)["recipient_id"]
        channel = {"id": f"5{recipient}", "type": 1, "recipients": [{"id": recipient}]}
        return 200, {}, json.dumps(channel)

    def _post(self, request):
        channel = request.url.split("/channels/")[1].split("/")[0]
        self.next_id += 1
        message = {
            "id": str(self.next_id),
            "channel_id": channel,
            "content": json.loads(request.body)["content"],
            "type": 0,
        }
        return 200, {}, json.dumps(message)

    def _edit(self, request):
        channel, _, message_id = request.url.split("/channels/")[1].split("/")
        content = json.loads(request.body)["content"]
        return 200, {}, json.dumps({"id": message_id, "channel_id": channel, "content": content})

    def calls(self, method: str, pattern: str = "") -> list:
        return [
            call
            for call in self.mock.calls
            if call.request.method == method and pattern in call.request.url
        ]

    def messages(self) -> list[tuple[str, str]]:
        """(channel id, content) of every message posted successfully, in order."""
        return [
            (json.loads(call.response.text)["channel_id"], json.loads(call.request.body)["content"])
            for call in self.calls("POST", "/messages")
            if getattr(call.response, "status_code", None) == 200
        ]

    def direct_messages(self) -> dict[str, list[str]]:
        """Contents by recipient's Discord username (DM channel ids are 5<user id>)."""
        names = {f"5{user_id}": name for name, user_id in MEMBERS.items()}
        sent: dict[str, list[str]] = {}
        for channel, content in self.messages():
            if channel in names:
                sent.setdefault(names[channel], []).append(content)
        return sent

    def announcements(self) -> list[str]:
        return [content for channel, content in self.messages() if channel == CHANNEL]


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def discord_api(monkeypatch, sleeps):
    settings = Settings("dojo-scheduler/test/discord", GUILD, CHANNEL, FRONTEND)
    discord = Discord("test-bot-token", API, sleep=sleeps.append)
    monkeypatch.setattr(notify, "notifier", Notifier(settings, discord))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield DiscordApi(mock)


@pytest.fixture
def players(tables):
    add_user(tables, "alice", discordUsername="alice_dojo")
    add_user(tables, "bob", discordUsername="bob_dojo")
    add_user(tables, "carol", discordUsername="carol_dojo")
    add_user(tables, "dave", discordUsername="dave_dojo")
    return tables


def run(records: list[dict]) -> list[str]:
    """The sequence numbers notify reports as failed."""
    response = notify.handler({"Records": records}, None)
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def sequence(records: list[dict]) -> list[str]:
    return [record["dynamodb"]["SequenceNumber"] for record in records]


# --- stored items (contract version 2 shapes) --------------------------------------------


def meeting(**fields) -> dict:
    return {
        "id": "m1",
        "owner": "alice",
        "participant": "bob",
        "startTime": START,
        "type": "CLASSICAL_GAME",
        "location": "",
        "description": "",
        "status": "SCHEDULED",
        "availability": {"owner": "alice", "id": "m1"},
        "expirationTime": 1893661200,
        **fields,
    }


def open_availability(**fields) -> dict:
    return {
        "owner": "alice",
        "id": "a1",
        "ownerDiscord": "alice_dojo",
        "ownerCohort": "1500-1600",
        "startTime": START,
        "endTime": END,
        "types": ["CLASSICAL_GAME", "ENDGAME_SPARRING"],
        "cohorts": ["1500-1600", "ALL_COHORTS"],
        "location": "",
        "description": "",
        "maxParticipants": 1,
        "status": "SCHEDULED",
        "participantCount": 0,
        "expirationTime": 1893661200,
        **fields,
    }


def seat(username: str, discord: str) -> dict:
    return {"username": username, "discord": discord, "cohort": "1500-1600", "joinedAt": START}


def put(client, table: str, item: dict) -> None:
    client.put_item(TableName=f"test-{table}", Item=to_item(item))


def delete(client, table: str, key: dict) -> None:
    client.delete_item(TableName=f"test-{table}", Key=to_item(key))


# --- one-to-one meetings ------------------------------------------------------------------


def test_a_booking_tells_the_owner(players, streams, discord_api):
    put(players, "meetings", meeting())
    assert run(streams.take("meetings")) == []
    assert discord_api.direct_messages() == {
        "alice_dojo": [
            f"bob booked your availability: Classical game on {WHEN}.\n{FRONTEND}/meeting/m1"
        ]
    }
    # The recipient was found by name among the guild's members; mentions are never pinged.
    (search,) = discord_api.calls("GET", "/members/search")
    assert search.request.params == {"query": "alice_dojo", "limit": "100"}
    (post,) = discord_api.calls("POST", "/messages")
    assert json.loads(post.request.body)["allowed_mentions"] == {"parse": []}
    assert post.request.headers["Authorization"] == "Bot test-bot-token"


def test_rebooking_a_reopened_slot_tells_the_owner(players, streams, discord_api):
    put(players, "meetings", meeting(status="CANCELED", canceledBy="bob"))
    put(players, "meetings", meeting(participant="carol"))  # the new booking replaces it
    assert run(streams.take("meetings")) == []
    assert discord_api.direct_messages() == {
        "alice_dojo": [
            f"carol booked your availability: Classical game on {WHEN}.\n{FRONTEND}/meeting/m1"
        ]
    }


@pytest.mark.parametrize(("canceled_by", "told"), [("bob", "alice_dojo"), ("alice", "bob_dojo")])
def test_a_cancel_tells_the_other_member(players, streams, discord_api, canceled_by, told):
    put(players, "meetings", meeting())
    streams.take("meetings")
    put(players, "meetings", meeting(status="CANCELED", canceledBy=canceled_by))
    assert run(streams.take("meetings")) == []
    assert discord_api.direct_messages() == {
        told: [f"{canceled_by} canceled your meeting on {WHEN}.\n{FRONTEND}/meeting/m1"]
    }


def test_seat_items_and_expiries_say_nothing(players, streams, discord_api):
    seat_item = {
        "id": "seat#g1#bob",
        "joinedBy": "bob",
        "sessionOwner": "alice",
        "sessionId": "g1",
        "startTime": START,
        "status": "SCHEDULED",
        "expirationTime": 1893661200,
    }
    put(players, "meetings", seat_item)
    put(players, "meetings", {**seat_item, "status": "CANCELED"})
    delete(players, "meetings", {"id": "seat#g1#bob"})
    put(players, "meetings", meeting(status="CANCELED", canceledBy="bob"))
    streams.take("meetings")
    delete(players, "meetings", {"id": "m1"})  # TTL expiry: a REMOVE
    assert run(streams.take("meetings")) == []
    assert len(discord_api.mock.calls) == 0


# --- announcements and group sessions ------------------------------------------------------


def test_an_open_availability_is_announced_until_it_is_booked(players, streams, discord_api):
    put(players, "availabilities", open_availability())
    assert run(streams.take("availabilities")) == []
    assert discord_api.announcements() == [
        "**New availability** by alice\\_dojo (1500-1600)\n"
        f"When: {WHEN} to <t:1893499200:f>\n"
        "What: Classical game, Endgame sparring\n"
        "Cohorts: 1500-1600, all cohorts\n"
        f"Book it: {FRONTEND}/calendar"
    ]
    post = store.announcement("alice", "a1")
    assert post == {
        "id": "announcement#alice#a1",
        "channelId": CHANNEL,
        "messageId": "9001",
        "expirationTime": 1893661200,
    }

    delete(players, "availabilities", {"owner": "alice", "id": "a1"})  # booked one-to-one
    assert run(streams.take("availabilities")) == []
    assert [c.request.url for c in discord_api.calls("DELETE")] == [
        f"{API}/channels/{CHANNEL}/messages/9001"
    ]
    assert store.announcement("alice", "a1") is None
    assert discord_api.direct_messages() == {}


def test_a_replaced_availability_edits_its_announcement(players, streams, discord_api):
    put(players, "availabilities", open_availability())
    put(players, "availabilities", open_availability(description="Bring a clock"))
    assert run(streams.take("availabilities")) == []
    (edit,) = discord_api.calls("PATCH")
    assert edit.request.url == f"{API}/channels/{CHANNEL}/messages/9001"
    assert "Bring a clock" in json.loads(edit.request.body)["content"]


def test_a_group_session_from_announcement_to_cancellation(players, streams, discord_api):
    group = open_availability(id="g1", maxParticipants=2, location="https://zoom.test/1")
    bob, carol = seat("bob", "bob_dojo"), seat("carol", "carol_dojo")
    steps = [
        group,  # announced
        {**group, "participants": {"bob": bob}, "participantCount": 1},  # bob joins
        {**group, "participants": {"bob": bob, "carol": carol}, "participantCount": 2,
         "status": "BOOKED"},  # carol takes the last seat: the post goes
        {**group, "participants": {"carol": carol}, "participantCount": 1},  # bob leaves: back
        {**group, "participants": {"carol": carol}, "participantCount": 1,
         "status": "CANCELED"},  # the owner cancels: the post goes again
    ]  # fmt: skip
    for item in steps:
        put(players, "availabilities", item)
    assert run(streams.take("availabilities")) == []

    link = f"{FRONTEND}/calendar"
    assert discord_api.direct_messages() == {
        "alice_dojo": [
            f"bob\\_dojo joined your group session on {WHEN} (1/2 seats taken).\n{link}",
            f"carol\\_dojo joined your group session on {WHEN} (2/2 seats taken).\n{link}",
            f"bob\\_dojo left your group session on {WHEN}.\n{link}",
        ],
        "carol_dojo": [
            f"alice\\_dojo canceled the group session on {WHEN} that you joined.\n{link}"
        ],
    }
    announcements = discord_api.announcements()
    assert len(announcements) == 2
    assert announcements[0].startswith("**Group session (2 seats)** by alice\\_dojo")
    assert "Where: https://zoom.test/1" in announcements[0]
    assert [c.request.url.rsplit("/", 1)[1] for c in discord_api.calls("DELETE")] == [
        "9001",  # full
        "9004",  # cancelled: the post made when bob's seat was freed
    ]
    assert store.announcement("alice", "g1") is None


def test_no_channel_no_announcement(players, streams, discord_api, monkeypatch):
    monkeypatch.setattr(notify.notifier.settings, "channel_id", "")
    put(players, "availabilities", open_availability())
    delete(players, "availabilities", {"owner": "alice", "id": "a1"})
    assert run(streams.take("availabilities")) == []
    assert len(discord_api.mock.calls) == 0


# --- settings, unknown players ---------------------------------------------------------------


def test_settings_are_honoured(players, streams, discord_api):
    players.update_item(
        TableName="test-users",
        Key=to_item({"username": "alice"}),
        UpdateExpression="SET disableBookingNotifications = :on",
        ExpressionAttributeValues=to_item({":on": True}),
    )
    players.update_item(
        TableName="test-users",
        Key=to_item({"username": "bob"}),
        UpdateExpression="SET disableCancellationNotifications = :on, "
        "disableBookingNotifications = :off",
        ExpressionAttributeValues=to_item({":on": True, ":off": False}),
    )
    put(players, "meetings", meeting())  # alice: booking notifications off
    put(players, "meetings", meeting(status="CANCELED", canceledBy="alice"))  # bob: off
    put(players, "meetings", meeting(id="m2", owner="bob", participant="alice"))  # bob: on
    put(players, "meetings", meeting(id="m2", owner="bob", participant="alice",
                                     status="CANCELED", canceledBy="bob"))  # alice: on  # fmt: skip
    assert run(streams.take("meetings")) == []
    assert discord_api.direct_messages() == {
        "bob_dojo": [
            f"alice booked your availability: Classical game on {WHEN}.\n{FRONTEND}/meeting/m2"
        ],
        "alice_dojo": [f"bob canceled your meeting on {WHEN}.\n{FRONTEND}/meeting/m2"],
    }


def test_players_without_discord_are_skipped_with_a_log_line(players, streams, discord_api, caplog):
    logging.getLogger(notify.logger.name).addHandler(caplog.handler)
    add_user(players, "erin")  # no discordUsername
    add_user(players, "frank", discordUsername="")
    add_user(players, "gina", discordUsername="alice")  # a prefix of a member, not a member
    for owner in ("erin", "frank", "gina", "nobody"):
        put(players, "meetings", meeting(id=f"m-{owner}", owner=owner))
    assert run(streams.take("meetings")) == []
    assert discord_api.messages() == []
    logging.getLogger(notify.logger.name).removeHandler(caplog.handler)
    log = caplog.text
    assert "No direct message: no Discord username" in log
    assert "No direct message: not a member of the club's server" in log
    assert "No direct message: no such user" in log


def test_notifications_off_without_a_token(players, streams, discord_api, monkeypatch):
    monkeypatch.setattr(notify.notifier.settings, "secret_name", "")
    put(players, "meetings", meeting())
    put(players, "availabilities", open_availability())
    assert run(streams.take("meetings") + streams.take("availabilities")) == []
    assert len(discord_api.mock.calls) == 0


# --- at most once -------------------------------------------------------------------------------


def test_a_redelivered_batch_sends_nothing_twice(players, streams, discord_api):
    group = open_availability(id="g1", maxParticipants=3)
    put(players, "availabilities", group)
    put(players, "availabilities", {**group, "participants": {"bob": seat("bob", "bob_dojo")}})
    put(players, "meetings", meeting())
    availabilities, meetings = streams.take("availabilities"), streams.take("meetings")
    for _ in range(3):  # at-least-once delivery: the same records again
        assert run(availabilities) == []
        assert run(meetings) == []
    assert len(discord_api.announcements()) == 1
    assert {name: len(texts) for name, texts in discord_api.direct_messages().items()} == {
        "alice_dojo": 2  # bob joined g1, bob booked m1
    }
    event_id = meetings[0]["eventID"]
    assert store.claim_state(store.claim_key(event_id, "booked")) == store.SENT


def test_an_unanswered_send_is_never_resent(players, streams, discord_api):
    put(players, "meetings", meeting())
    records = streams.take("meetings")
    discord_api.answer_messages({"body": requests.ReadTimeout("read timed out")})
    assert run(records) == []  # logged; retrying could post it twice
    key = store.claim_key(records[0]["eventID"], "booked")
    assert store.claim_state(key) == store.SENDING

    assert run(records) == []
    assert discord_api.messages() == []  # at most once: a possibly sent message is not resent


# --- Discord failures: 429, 5xx, partial batches --------------------------------------------


def test_429_waits_retry_after_then_sends(players, streams, discord_api, sleeps):
    rate_limited = {"message": "You are being rate limited.", "retry_after": 0.25, "global": False}
    discord_api.answer_messages(
        {"status": 429, "json": rate_limited, "headers": {"Retry-After": "1"}}
    )
    put(players, "meetings", meeting())
    assert run(streams.take("meetings")) == []
    assert sleeps == [0.25]
    assert len(discord_api.direct_messages()["alice_dojo"]) == 1


def test_a_long_rate_limit_fails_the_record_for_a_later_retry(
    players, streams, discord_api, sleeps
):
    rate_limited = {"message": "You are being rate limited.", "retry_after": 64.57, "global": True}
    discord_api.answer_messages({"status": 429, "json": rate_limited}, then_succeed=False)
    put(players, "meetings", meeting())
    records = streams.take("meetings")
    assert run(records) == sequence(records)
    assert sleeps == []  # 64 s is beyond the wait budget: the stream retries instead
    assert store.claim_state(store.claim_key(records[0]["eventID"], "booked")) is None

    discord_api.answer_messages()
    assert run(records) == []  # Lambda's retry
    assert len(discord_api.direct_messages()["alice_dojo"]) == 1


def test_5xx_is_retried_then_fails_the_record_and_everything_after_it(
    players, streams, discord_api, sleeps
):
    put(players, "availabilities", open_availability())  # announced: fine
    put(players, "availabilities", open_availability(id="a2"))  # Discord is down
    put(players, "availabilities", open_availability(id="a3"))  # not tried: after a failure
    records = streams.take("availabilities")
    outage = {"status": 500, "json": {"message": "500: Internal Server Error", "code": 0}}
    discord_api.mock.remove(responses.POST, MESSAGES)
    discord_api.add_messages()  # the first post succeeds, then Discord fails
    for _ in range(3):
        discord_api.mock.add(responses.POST, MESSAGES, **outage)
    assert run(records) == sequence(records)[1:]
    assert sleeps == [0.5, 1.0]  # three attempts, backing off
    assert discord_api.announcements() == [
        announcement(open_availability(), FRONTEND, lambda _: "alice_dojo")
    ]

    # Lambda retries from the first failed record, Discord is back.
    discord_api.answer_messages()
    assert run(records[1:]) == []
    assert len(discord_api.announcements()) == 3


def test_a_booking_succeeds_with_discord_down(players, streams, discord_api):
    """Notifying runs after the write, from the stream: the API never waits for Discord."""
    discord_api.mock.reset()
    for method in (responses.GET, responses.POST, responses.DELETE, responses.PATCH):
        discord_api.mock.add(method, re.compile(rf"{API}/.*"), status=503, json={"message": "down"})

    offer = set_availability.handler(http_event("PUT /availability", body=availability()), None)
    assert offer["statusCode"] == 200
    offered = body(offer)["id"]
    booking = {"owner": "alice", "id": offered, "startTime": "2030-01-01T10:00:00Z",
               "type": "CLASSICAL_GAME"}  # fmt: skip
    response = book.handler(http_event("PUT /availability/book", caller="bob", body=booking), None)
    assert response["statusCode"] == 200
    assert body(response)["participant"] == "bob"
    assert len(discord_api.mock.calls) == 0  # the API itself never called Discord

    records = streams.take("availabilities") + streams.take("meetings")
    assert run(records)  # Discord is down: the records fail, to be retried
    item = players.get_item(TableName="test-meetings", Key=to_item({"id": offered}))["Item"]
    assert item["participant"] == {"S": "bob"}  # the booking stands


# --- the bot token unreadable: Secrets Manager failing or hanging -------------------------------

SECRET = "dojo-scheduler/test/discord"  # serverless.yml's DISCORD_SECRET_NAME on this stage


def create_bot_secret() -> None:
    put_secret(SECRET, {notify.TOKEN_KEY: "test-bot-token"})


@pytest.fixture
def cold_secrets():
    """A cold container: no Secrets Manager client, no secret cached yet."""
    secrets.clear_caches()
    yield
    secrets.clear_caches()


@pytest.fixture
def token_from_secret(discord_api, cold_secrets, monkeypatch):
    """notify reading its bot token as deployed: from the stage's secret, before each call."""
    monkeypatch.setattr(notify.settings, "secret_name", SECRET)
    monkeypatch.setattr(notify.notifier.discord, "token", notify._token)


@pytest.fixture(params=["missing", "unanswered"])
def unreadable_token(request, token_from_secret, monkeypatch):
    """The bot token cannot be read: no such secret (Secrets Manager's error), or Secrets
    Manager accepting the connection and never answering. Calling the result mends it."""
    if request.param == "missing":
        yield create_bot_secret
        return
    create_bot_secret()
    with SilentServer() as hung:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", hung.url)
        secrets.clear_caches()

        def mend() -> None:
            monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
            secrets.clear_caches()

        yield mend


SCHEDULING_MARGIN = 2.0  # seconds a busy 2-core machine may add to a bounded wait


def test_an_unreadable_bot_token_fails_the_record_and_a_retry_sends_once(
    players, streams, discord_api, unreadable_token, monkeypatch
):
    released = []
    release = store.release
    monkeypatch.setattr(store, "release", lambda key: (released.append(key), release(key)))
    put(players, "availabilities", open_availability())  # announced: claimed, then sent
    put(players, "meetings", meeting())  # a direct message: the member is looked up first
    availabilities, meetings = streams.take("availabilities"), streams.take("meetings")
    announce = store.claim_key(availabilities[0]["eventID"], "announce")
    booked = store.claim_key(meetings[0]["eventID"], "booked")

    for records in (availabilities, meetings):
        started = time.monotonic()
        assert run(records) == sequence(records)  # retried by the stream
        # Within the time a record is started with (notifications/deliver.py's RESERVE_MS): the
        # read's bound, plus a margin for a loaded machine (the hang itself takes the bound;
        # botocore's default timeouts and retries would take minutes).
        assert time.monotonic() - started <= secrets.SECRET_SECONDS + SCHEDULING_MARGIN
    assert len(discord_api.mock.calls) == 0  # nothing sent, not even a lookup
    assert released == [announce]  # the announcement's claim was taken, and given back
    assert store.claim_state(announce) is None
    assert store.claim_state(booked) is None  # never claimed: the lookup failed first

    unreadable_token()
    for _ in range(2):  # Lambda's retry, then a redelivery of the same records
        assert run(availabilities) == []
        assert run(meetings) == []
    assert len(discord_api.announcements()) == 1
    assert {name: len(texts) for name, texts in discord_api.direct_messages().items()} == {
        "alice_dojo": 1
    }
    assert store.claim_state(announce) == store.claim_state(booked) == store.SENT
    (post,) = discord_api.calls("POST", f"/channels/{CHANNEL}/messages")
    assert post.request.headers["Authorization"] == "Bot test-bot-token"


def test_reading_the_token_fits_in_the_time_a_record_is_started_with(cold_secrets):
    """A hanging Secrets Manager must fail the read, not the function: with the function timed
    out after a claim, the claim would stay SENDING and the message would never be sent."""
    config = secrets._provider(secrets.CONFIG).client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    attempts = config.retries["total_max_attempts"]
    backoff = 1  # botocore's standard mode: at most 1 s before the second attempt
    read = attempts * (config.connect_timeout + config.read_timeout) + backoff
    assert read <= secrets.SECRET_SECONDS
    discord = Discord("t")
    call = discord.attempts * sum(discord.timeout) + (discord.attempts - 1) * discord.max_wait
    assert secrets.SECRET_SECONDS + call <= RESERVE_MS / 1000


# --- the pieces -----------------------------------------------------------------------------------


def test_discord_time_is_discord_timestamp_markup():
    assert discord_time("2030-01-01T09:00:00.000Z") == WHEN


def test_an_unchanged_availability_does_nothing():
    item = open_availability()
    assert availability_changes(item, dict(item), FRONTEND) == []


@responses.activate
def test_member_search_matches_exact_names_only():
    members = [
        {"user": {"id": "1", "username": "alice_dojo2", "discriminator": "0"}},
        {"user": {"id": "2", "username": "Alice_Dojo", "discriminator": "0"}},
        {"user": {"id": "3", "username": "oldtimer", "discriminator": "1234"}},
    ]
    responses.add(
        responses.GET,
        f"{API}/guilds/{GUILD}/members/search",
        json=members,
        match=[matchers.header_matcher({"Authorization": "Bot t"})],
    )
    client = Discord("t", API)
    assert client.find_member(GUILD, "alice_dojo") == "2"
    assert client.find_member(GUILD, "oldtimer#1234") == "3"
    assert client.find_member(GUILD, "oldtimer#9999") is None
    assert client.find_member(GUILD, "alice") is None


def test_a_refused_message_is_logged_not_retried(players, streams, discord_api):
    cannot_dm = {"message": "Cannot send messages to this user", "code": 50007}
    discord_api.answer_messages({"status": 403, "json": cannot_dm}, then_succeed=False)
    put(players, "meetings", meeting())
    records = streams.take("meetings")
    assert run(records) == []  # the same on every retry: not worth blocking the stream
    assert store.claim_state(store.claim_key(records[0]["eventID"], "booked")) == store.REJECTED
    assert len(discord_api.calls("POST", "/messages")) == 1


def test_an_already_deleted_announcement_is_fine(players, streams, discord_api):
    put(players, "availabilities", open_availability())
    delete(players, "availabilities", {"owner": "alice", "id": "a1"})
    discord_api.mock.remove(responses.DELETE, re.compile(rf"{API}/channels/\d+/messages/\d+"))
    unknown = {"message": "Unknown Message", "code": 10008}
    discord_api.mock.add(
        responses.DELETE, re.compile(rf"{API}/channels/\d+/messages/\d+"), status=404, json=unknown
    )
    assert run(streams.take("availabilities")) == []
    assert store.announcement("alice", "a1") is None


class NearlyTimedOut:
    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_records_are_not_started_without_time_left(players, streams, discord_api):
    put(players, "meetings", meeting())
    put(players, "meetings", meeting(id="m2"))
    records = streams.take("meetings")
    response = notify.handler({"Records": records}, NearlyTimedOut())
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == sequence(records)
    assert len(discord_api.mock.calls) == 0
