"""Reminders (contract v4): planReminders from the tables' change streams, sendReminders every
minute, each reminder exactly once per meeting (or session), member, value and channel.

The changes are real: the API's own handlers book, join, cancel and reschedule against the moto
tables, and moto's stream records are handed to planReminders as Lambda hands them over
(tests/handlers/test_notify.Streams). Discord's REST API is mocked with `responses`
(test_notify.DiscordApi); mail goes to moto's SES (v2), whose sent messages are read back.
"""

import email
import email.policy
import json
import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests
import responses
from moto.ses.models import ses_backends
from test_notify import API, GUILD, DiscordApi, Streams

from database import reminders as store
from database.client import from_item
from handlers.availability import book
from handlers.availability import set as set_availability
from handlers.meeting import cancel, reschedule
from handlers.reminders import plan as plan_reminders
from handlers.reminders import send as send_reminders
from handlers.user import get as get_user
from handlers.user import set as set_user
from notifications import mail
from notifications.discord import Discord
from notifications.remind import Reminders, Settings
from notifications.reminders import local_start
from support import add_user, availability, body, http_event, streams_client

START = "2030-01-08T18:00:00.000Z"  # Tue 8 Jan 2030, 19:00 in Berlin, 13:00 in New York
FROM = "ChessDojo <no-reply@example.org>"


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def streams(tables):
    return Streams(tables, streams_client())


@pytest.fixture
def players(tables):
    add_user(tables, "alice", discordUsername="alice_dojo", timezone="Europe/Berlin")
    add_user(tables, "bob", discordUsername="bob_dojo", timezone="America/New_York")
    add_user(tables, "carol", discordUsername="carol_dojo")
    add_user(tables, "dave", discordUsername="dave_dojo")
    return tables


@pytest.fixture
def discord_api(monkeypatch):
    discord = Discord("test-bot-token", API, attempts=2, max_wait=2.0, sleep=lambda _: None)
    reminders = Reminders(Settings("dojo-scheduler/test/discord", GUILD, API), discord)
    monkeypatch.setattr(send_reminders, "reminders", reminders)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield DiscordApi(mock)


@pytest.fixture
def mailbox(tables, monkeypatch):
    """The stage's mail: From its verified identity, into moto's SES."""
    monkeypatch.setenv("MAIL_FROM", FROM)
    mail.ses.cache_clear()
    boto3.client("ses", region_name="us-east-1").verify_domain_identity(Domain="example.org")
    yield Mailbox()
    mail.ses.cache_clear()


class Mailbox:
    def messages(self) -> list[email.message.Message]:
        sent = ses_backends["123456789012"]["us-east-1"].sent_messages
        return [email.message_from_string(m.raw_data, policy=email.policy.default) for m in sent]

    def to(self, address: str) -> list[email.message.Message]:
        return [m for m in self.messages() if m["To"] == address]


@pytest.fixture
def stack(players, streams, discord_api, mailbox):
    return Stack(streams, discord_api, mailbox)


class Stack:
    def __init__(self, streams, discord, mailbox) -> None:
        self.streams, self.discord, self.mailbox = streams, discord, mailbox

    def plan(self) -> None:
        records = self.streams.take("availabilities") + self.streams.take("meetings")
        answer = plan_reminders.handler({"Records": records}, None)
        assert answer["batchItemFailures"] == []

    def send(self, at: str) -> dict:
        return send_reminders.handler(scheduled(at), None)


def scheduled(at: str) -> dict:
    return {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "time": at}


def ok(response: dict) -> dict:
    assert response["statusCode"] == 200, response
    return body(response)


def publish(owner="alice", start=START, hours=2, **fields) -> dict:
    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    window = {
        "startTime": start,
        "endTime": (begin + timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
    }
    event = http_event(
        "PUT /availability",
        caller=owner,
        body=availability(owner=owner, **window, location="Lichess, room 4", **fields),
    )
    return ok(set_availability.handler(event, None))


def book_as(caller, published, start=START) -> dict:
    booking = {"owner": published["owner"], "id": published["id"], "startTime": start}
    if published.get("maxParticipants", 1) > 1:
        booking = {"owner": published["owner"], "id": published["id"]}
    else:
        booking["type"] = "CLASSICAL_GAME"
    return ok(book.handler(http_event("PUT /availability/book", caller=caller, body=booking), None))


def cancel_as(caller, meeting_id) -> dict:
    event = http_event("PUT /meeting/cancel/{id}", caller=caller, path={"id": meeting_id})
    return ok(cancel.handler(event, None))


def set_profile(caller, **fields) -> dict:
    return ok(set_user.handler(http_event("PUT /user", caller=caller, body=fields), None))


def minutes_before(start: str, minutes: int) -> str:
    at = datetime.fromisoformat(start.replace("Z", "+00:00")) - timedelta(minutes=minutes)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def sent(stack) -> dict[str, list[str]]:
    return stack.discord.direct_messages()


# --- the user's settings ---------------------------------------------------------------------


def test_reminder_settings_default_and_change(players):
    profile = ok(get_user.handler(http_event("GET /user", caller="carol"), None))
    assert profile["reminderMinutes"] == [60]
    assert profile["disableReminderEmails"] is False
    changed = set_profile("carol", reminderMinutes=[10080, 5], disableReminderEmails=True)
    assert changed["reminderMinutes"] == [10080, 5] and changed["disableReminderEmails"] is True
    assert set_profile("carol", reminderMinutes=[])["reminderMinutes"] == []


@pytest.mark.parametrize(
    "value",
    [[4], [10081], [60, 60], [5, 10, 15, 20], ["60"], [60.5], 60, [True]],
)
def test_bad_reminder_minutes_are_a_400_naming_the_field_and_change_nothing(players, value):
    event = http_event("PUT /user", caller="carol", body={"reminderMinutes": value})
    response = set_user.handler(event, None)
    assert response["statusCode"] == 400, response
    assert "reminderMinutes" in body(response)["message"]
    profile = ok(get_user.handler(http_event("GET /user", caller="carol"), None))
    assert profile["reminderMinutes"] == [60]


def test_bad_disable_reminder_emails_is_a_400(players):
    event = http_event("PUT /user", caller="carol", body={"disableReminderEmails": "yes"})
    response = set_user.handler(event, None)
    assert response["statusCode"] == 400
    assert "disableReminderEmails" in body(response)["message"]


# --- one-to-one meetings -----------------------------------------------------------------------


def test_each_member_gets_one_dm_and_one_email_in_their_own_zone(stack):
    meeting = book_as("bob", publish("alice"))
    stack.plan()
    assert stack.send(minutes_before(START, 61))["sent"] == 0  # not due yet
    assert sent(stack) == {}
    answer = stack.send(minutes_before(START, 60))
    assert answer["sent"] == 2
    dms = sent(stack)
    assert len(dms["alice_dojo"]) == 1 and len(dms["bob_dojo"]) == 1
    assert "Tue 8 Jan 2030, 19:00 (Europe/Berlin)" in dms["alice_dojo"][0]
    assert "Classical game with bob\\_dojo" in dms["alice_dojo"][0]  # shown as typed
    assert "Tue 8 Jan 2030, 13:00 (America/New_York)" in dms["bob_dojo"][0]
    assert "Classical game with alice\\_dojo" in dms["bob_dojo"][0]
    assert "Lichess, room 4" in dms["bob_dojo"][0]
    [to_bob] = stack.mailbox.to("bob@example.com")
    [to_alice] = stack.mailbox.to("alice@example.com")
    assert to_bob["Subject"] == (
        "Reminder: Classical game with alice_dojo, Tue 8 Jan 2030, 13:00 (America/New_York)"
    )
    assert "Where: Lichess, room 4" in to_bob.get_body().get_content()
    assert to_alice["From"] == FROM
    # the .ics: the calendar feed's VEVENT, alone in a METHOD:PUBLISH calendar
    [ics] = [part for part in to_bob.walk() if part.get_filename() == "meeting.ics"]
    calendar = ics.get_payload(decode=True).decode()
    assert "METHOD:PUBLISH" in calendar and calendar.count("BEGIN:VEVENT") == 1
    assert f"UID:{meeting['id']}@dojo-scheduler" in calendar
    assert "DTSTART:20300108T180000Z" in calendar


# The four runs share one process here, so one Powertools metrics store (the module's, as a
# container's): a run that flushes after another finds it emptied and warns. Concurrent runs
# on Lambda are separate containers, each with its own store and its own datapoint.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_repeated_late_and_concurrent_runs_send_nothing_twice(stack, atomic_moto):
    book_as("bob", publish("alice"))
    stack.plan()
    due = minutes_before(START, 60)
    threads = [threading.Thread(target=stack.send, args=(due,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stack.send(due)
    stack.send(minutes_before(START, 59))  # the next minute's run
    assert {name: len(texts) for name, texts in sent(stack).items()} == {
        "alice_dojo": 1,
        "bob_dojo": 1,
    }
    assert len(stack.mailbox.messages()) == 2


def test_a_redelivered_change_plans_nothing_twice(stack):
    book_as("bob", publish("alice"))
    records = stack.streams.take("meetings")
    for _ in range(2):
        plan_reminders.handler({"Records": records}, None)
    stack.send(minutes_before(START, 60))
    assert {name: len(texts) for name, texts in sent(stack).items()} == {
        "alice_dojo": 1,
        "bob_dojo": 1,
    }


def test_one_reminder_per_value(stack):
    set_profile("bob", reminderMinutes=[1440, 60, 5])
    book_as("bob", publish("alice"))
    stack.plan()
    for minutes in (1440, 60, 5):
        stack.send(minutes_before(START, minutes))
    assert len(sent(stack)["bob_dojo"]) == 3
    assert len(sent(stack)["alice_dojo"]) == 1
    assert len(stack.mailbox.to("bob@example.com")) == 3


def test_none_for_an_empty_list_and_no_email_when_disabled(stack):
    set_profile("alice", reminderMinutes=[])
    set_profile("bob", disableReminderEmails=True)
    book_as("bob", publish("alice"))
    stack.plan()
    stack.send(minutes_before(START, 60))
    assert list(sent(stack)) == ["bob_dojo"]
    assert stack.mailbox.messages() == []


def test_none_after_a_cancel(stack):
    meeting = book_as("bob", publish("alice"))
    stack.plan()
    cancel_as("alice", meeting["id"])
    stack.plan()
    answer = stack.send(minutes_before(START, 60))
    assert answer["sent"] == 0 and answer["dropped"] == {"canceled": 2}
    assert sent(stack) == {} and stack.mailbox.messages() == []
    assert stack.send(minutes_before(START, 59))["due"] == 0  # out of the index for good


def test_a_cancel_delivered_before_its_booking_sends_nothing(stack):
    """The two records of one meeting arrive in the other order (a retried batch, or the
    meeting's records after the availability's): the booking's still plans its reminders, and
    the send finds the meeting canceled."""
    meeting = book_as("bob", publish("alice"))
    booked = stack.streams.take("availabilities") + stack.streams.take("meetings")
    cancel_as("alice", meeting["id"])
    canceled = stack.streams.take("availabilities") + stack.streams.take("meetings")
    assert booked and canceled
    for records in (canceled, booked):
        assert plan_reminders.handler({"Records": records}, None)["batchItemFailures"] == []

    answer = stack.send(minutes_before(START, 60))
    assert answer["sent"] == 0 and answer["dropped"] == {"canceled": 2}
    assert sent(stack) == {} and stack.mailbox.messages() == []


def test_a_rescheduled_meeting_is_reminded_at_its_new_time(stack):
    meeting = book_as("bob", publish("alice"))
    later = "2030-01-09T18:00:00.000Z"
    target = publish("alice", start=later)
    event = http_event(
        "PUT /meeting/reschedule/{id}",
        caller="bob",
        path={"id": meeting["id"]},
        body={"id": target["id"], "startTime": later},
    )
    ok(reschedule.handler(event, None))
    stack.plan()
    assert stack.send(minutes_before(START, 60))["dropped"] == {"moved": 2}  # the old time
    assert sent(stack) == {}
    assert stack.send(minutes_before(later, 60))["sent"] == 2
    assert "Wed 9 Jan 2030, 19:00 (Europe/Berlin)" in sent(stack)["alice_dojo"][0]


def test_none_whose_due_time_had_passed_at_booking(stack):
    soon = (datetime.now(UTC) + timedelta(minutes=30)).replace(second=0, microsecond=0)
    start = soon.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    set_profile("bob", reminderMinutes=[60, 10])
    book_as("bob", publish("alice", start=start), start=start)
    stack.plan()
    assert stack.send(minutes_before(start, 10))["sent"] == 1  # bob's 10; 60 had passed
    assert list(sent(stack)) == ["bob_dojo"]


def test_a_reminder_unsent_at_the_start_is_dropped_and_counted(stack, capsys):
    book_as("bob", publish("alice"))
    stack.plan()
    capsys.readouterr()
    answer = stack.send(START)  # the job was down until the start
    assert answer["late"] == 2 and answer["sent"] == 0
    assert sent(stack) == {}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [m["RemindersDropped"] for m in metrics] == [[2.0]]
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "dojo-scheduler"


# --- faults --------------------------------------------------------------------------------


def test_discord_down_is_retried_next_run_and_never_blocks_the_email(stack):
    book_as("bob", publish("alice"))
    stack.plan()
    stack.discord.answer_messages(*[{"status": 503}] * 4)  # 2 members x 2 attempts
    first = stack.send(minutes_before(START, 60))
    assert first["retried"] == 2 and sent(stack) == {}
    assert len(stack.mailbox.messages()) == 2  # the emails went out meanwhile
    second = stack.send(minutes_before(START, 59))
    assert second["sent"] == 2
    assert {name: len(texts) for name, texts in sent(stack).items()} == {
        "alice_dojo": 1,
        "bob_dojo": 1,
    }
    assert len(stack.mailbox.messages()) == 2  # not again


def test_a_discord_timeout_is_resent_with_the_same_nonce(stack):
    book_as("bob", publish("alice"))
    stack.plan()
    stack.discord.answer_messages(
        {"body": requests.ReadTimeout("no answer")}, {"body": requests.ReadTimeout("no answer")}
    )
    assert stack.send(minutes_before(START, 60))["retried"] == 2
    stack.send(minutes_before(START, 59))
    posts = [json.loads(c.request.body) for c in stack.discord.calls("POST", "/messages")]
    assert all(post["enforce_nonce"] is True for post in posts)
    by_channel: dict[str, set[str]] = {}
    for call, post in zip(stack.discord.calls("POST", "/messages"), posts, strict=True):
        by_channel.setdefault(call.request.url, set()).add(post["nonce"])
    assert all(len(nonces) == 1 for nonces in by_channel.values())  # Discord posts it once


def test_ses_throttling_is_retried_next_run(stack, monkeypatch):
    book_as("bob", publish("alice"))
    stack.plan()
    real = mail.send_mail
    calls = []

    def throttled(*args, **kwargs):
        calls.append(args[0])
        if len(calls) <= 2:
            raise mail.MailUnavailable("SES TooManyRequestsException")
        return real(*args, **kwargs)

    monkeypatch.setattr(mail, "send_mail", throttled)
    assert stack.send(minutes_before(START, 60))["retried"] == 2
    assert len(stack.mailbox.messages()) == 0 and len(sent(stack)) == 2
    assert stack.send(minutes_before(START, 59))["sent"] == 2
    assert len(stack.mailbox.messages()) == 2
    assert {name: len(texts) for name, texts in sent(stack).items()} == {
        "alice_dojo": 1,
        "bob_dojo": 1,
    }


def test_ses_throttling_from_the_service_is_mail_unavailable(mailbox):
    from botocore.stub import Stubber

    stubber = Stubber(mail.ses())
    stubber.add_client_error("send_email", "TooManyRequestsException", http_status_code=429)
    stubber.add_client_error("send_email", "MessageRejected", http_status_code=400)
    with stubber:
        with pytest.raises(mail.MailUnavailable):
            mail.send_mail("bob@example.com", "s", "t")
        with pytest.raises(mail.MailRejected):
            mail.send_mail("bob@example.com", "s", "t")


def _claim_left_by_a_stalled_run(stack) -> tuple[dict, str, int]:
    """One of a booking's two reminders, claimed on Discord at its due time by a run that then
    died or stalled: (the reminder, its due time, the claim's time)."""
    book_as("bob", publish("alice"))
    stack.plan()
    due = minutes_before(START, 60)
    [pending, _] = sorted(store.due(datetime.fromisoformat(due), timedelta(hours=1)), key=str)
    at = int(datetime.fromisoformat(due).timestamp())
    assert store.claim(pending["id"], store.DISCORD, at, 300)
    return pending, due, at


def test_a_claim_left_by_a_dead_run_is_taken_over_after_the_lease(stack):
    _, due, _ = _claim_left_by_a_stalled_run(stack)
    stack.send(due)
    assert len(sent(stack)) == 1  # the other member's; this one is held
    stack.send(minutes_before(START, 50))  # 10 minutes on: the lease is over
    assert len(sent(stack)) == 2


def test_a_dead_runs_late_outcome_never_overwrites_the_run_that_took_over(stack):
    pending, _, at = _claim_left_by_a_stalled_run(stack)
    stack.send(minutes_before(START, 50))  # the lease is over: taken over and sent
    assert store.get(pending["id"])["discordState"] == store.SENT
    # The stalled run wakes up and records what its own send met: nothing changes.
    assert not store.finish(pending["id"], store.DISCORD, store.REJECTED, at)
    assert store.get(pending["id"])["discordState"] == store.SENT


# --- group sessions ----------------------------------------------------------------------------


def test_group_session_owner_and_participants_but_not_who_left(stack):
    session = publish("alice", maxParticipants=3, types=["BOOK_STUDY"])
    book_as("bob", session)
    book_as("carol", session)
    book_as("dave", session)
    stack.plan()
    cancel_as("dave", session["id"])  # dave leaves
    stack.plan()
    answer = stack.send(minutes_before(START, 60))
    assert answer["sent"] == 3 and answer["dropped"] == {"left": 1}
    assert sorted(sent(stack)) == ["alice_dojo", "bob_dojo", "carol_dojo"]
    assert "your group session (Book study)" in sent(stack)["alice_dojo"][0]
    assert "alice\\_dojo's group session (Book study)" in sent(stack)["bob_dojo"][0]


def test_none_for_a_session_without_participants_or_canceled(stack):
    publish("alice", maxParticipants=3)
    session = publish("alice", maxParticipants=3, start="2030-01-08T12:00:00.000Z")
    book_as("bob", session)
    stack.plan()
    cancel_as("alice", session["id"])
    stack.plan()
    stack.send(minutes_before(START, 60))
    stack.send(minutes_before("2030-01-08T12:00:00.000Z", 60))
    assert sent(stack) == {}


# --- the text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "zone", "shown"),
    [
        ("2026-12-08T18:00:00.000Z", "Europe/Berlin", "Tue 8 Dec 2026, 19:00 (Europe/Berlin)"),
        ("2027-03-28T17:00:00.000Z", "Europe/Berlin", "Sun 28 Mar 2027, 19:00 (Europe/Berlin)"),
        ("2027-03-27T18:00:00.000Z", "Europe/Berlin", "Sat 27 Mar 2027, 19:00 (Europe/Berlin)"),
        (
            "2027-11-07T06:30:00.000Z",
            "America/New_York",
            "Sun 7 Nov 2027, 01:30 (America/New_York)",
        ),
        (
            "2027-11-07T05:30:00.000Z",
            "America/New_York",
            "Sun 7 Nov 2027, 01:30 (America/New_York)",
        ),
        ("2026-12-08T18:00:00.000Z", "UTC", "Tue 8 Dec 2026, 18:00 (UTC)"),
    ],
)
def test_the_start_in_the_members_zone_across_dst(start, zone, shown):
    assert local_start(start, zone) == shown


def test_a_pending_reminder_is_found_by_its_index_only(stack):
    book_as("bob", publish("alice"))
    stack.plan()
    due = datetime.fromisoformat(minutes_before(START, 60))
    found = list(store.due(due, timedelta(minutes=2)))
    assert len(found) == 2 and all(item["dueBucket"] == "2030-01-08T17" for item in found)
    stack.send(minutes_before(START, 60))
    assert list(store.due(due, timedelta(minutes=2))) == []
    kept = [
        from_item(i) for i in boto3.client("dynamodb").scan(TableName="test-reminders")["Items"]
    ]
    assert {item["outcome"] for item in kept} == {"sent"}
    assert {item["discordState"] for item in kept} == {"SENT"}


def test_a_reminder_across_a_dst_change_is_due_its_minutes_before_the_instant(stack):
    start = "2030-03-31T17:00:00.000Z"  # 19:00 in Berlin, the day clocks went forward
    set_profile("alice", reminderMinutes=[1440])
    book_as("bob", publish("alice", start=start), start=start)
    stack.plan()
    assert stack.send("2030-03-30T16:59:00Z")["sent"] == 0
    stack.send("2030-03-30T17:00:00Z")  # 24 hours before: 18:00 local the day before
    [text] = sent(stack)["alice_dojo"]
    assert "Sun 31 Mar 2030, 19:00 (Europe/Berlin)" in text
