"""Reminders on `make run` (contract v4, "Reminders"), over HTTP as the frontend would: two
players in different time zones book a game; at the due minute `POST
/_local/schedule/sendReminders` sends each one Discord direct message (the Discord stand-in)
naming the start in their own zone, and an email where the stage has mail (the mail stand-in);
running the job again, twice at once, or after a cancel sends nothing more."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from local_stack import Stack, running_stack

START = "2030-04-09T17:00:00Z"  # Tue 9 Apr 2030: 19:00 in Berlin (summer time), 13:00 in New York
DUE = "2030-04-09T16:00:00Z"  # the default reminder: 60 minutes before


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("local")) as started:
        # sendReminders' first run starts its execution environment (Discord's client, tzdata,
        # the secret): seconds on a loaded machine, more than a request's 10 s wait.
        deadline = time.monotonic() + 90
        while True:
            try:
                run_reminders(started, "2030-01-01T00:00:00Z")
                break
            except TimeoutError:
                assert time.monotonic() < deadline, started.output.read_text()[-3000:]
        yield started


@pytest.fixture(scope="module")
def players(stack: Stack) -> dict[str, str]:
    tokens = {name: stack.sign_up_and_in(name)["IdToken"] for name in ("rina", "theo")}
    for name, zone in (("rina", "Europe/Berlin"), ("theo", "America/New_York")):
        body = {"discordUsername": f"{name}_dojo", "timezone": zone, "dojoCohort": "1500-1600"}
        status, _, profile = stack.call("PUT", "/user", tokens[name], body)
        assert status == 200, profile
    return tokens


def direct_messages(stack: Stack, start: str) -> dict[str, list[str]]:
    """The Discord stand-in's direct messages about the game at `start`, by recipient."""
    status, _, sent = stack.call("GET", "/_local/discord")
    assert status == 200
    found: dict[str, list[str]] = {}
    for message in sent["directMessages"]:
        if message["content"].startswith("Reminder:") and start in message["content"]:
            found.setdefault(message["to"], []).append(message["content"])
    return found


def run_reminders(stack: Stack, at: str) -> dict:
    status, _, ran = stack.call("POST", "/_local/schedule/sendReminders", body={"time": at})
    assert status == 200, ran
    return ran["result"]


def book_game(stack: Stack, players: dict[str, str], start: str, end: str) -> str:
    body = {
        "owner": "rina",
        "ownerDiscord": "rina_dojo",
        "ownerCohort": "1500-1600",
        "startTime": start,
        "endTime": end,
        "types": ["CLASSICAL_GAME"],
        "cohorts": ["ALL_COHORTS"],
        "location": "Lichess",
    }
    status, _, published = stack.call("PUT", "/availability", players["rina"], body)
    assert status == 200, published
    booking = {"owner": "rina", "id": published["id"], "startTime": start, "type": "CLASSICAL_GAME"}
    status, _, meeting = stack.call("PUT", "/availability/book", players["theo"], booking)
    assert status == 200, meeting
    return meeting["id"]


def test_each_player_is_reminded_once_in_their_own_zone(stack: Stack, players):
    book_game(stack, players, START, "2030-04-09T19:00:00Z")
    deadline = time.monotonic() + 30
    while run_reminders(stack, DUE)["sent"] < 2:  # the stream writes them within a second
        assert time.monotonic() < deadline, stack.output.read_text()[-3000:]
        time.sleep(0.5)
    sent = direct_messages(stack, "")
    mine = {to: [m for m in messages if "9 Apr 2030" in m] for to, messages in sent.items()}
    assert {to: len(messages) for to, messages in mine.items()} == {"rina_dojo": 1, "theo_dojo": 1}
    assert "Tue 9 Apr 2030, 19:00 (Europe/Berlin)" in mine["rina_dojo"][0]
    assert "Tue 9 Apr 2030, 13:00 (America/New_York)" in mine["theo_dojo"][0]
    assert "Classical game with theo\\_dojo" in mine["rina_dojo"][0]  # as Discord shows it
    assert "Where: Lichess" in mine["theo_dojo"][0]

    # again, twice at once, and a minute later: nothing more
    assert run_reminders(stack, DUE)["sent"] == 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: run_reminders(stack, DUE), range(2)))
    assert [r["sent"] for r in results] == [0, 0]
    assert run_reminders(stack, "2030-04-09T16:01:00Z")["sent"] == 0
    again = direct_messages(stack, "")
    assert sum("9 Apr 2030" in m for messages in again.values() for m in messages) == 2

    status, _, mail = stack.call("GET", "/_local/mail")
    if status == 200:  # the stage has mail (the mail stand-in)
        reminders = [m for m in mail["messages"] if "9 Apr 2030" in m["subject"]]
        assert sorted(m["to"] for m in reminders) == ["rina@example.com", "theo@example.com"]
        by_address = {m["to"]: m for m in reminders}
        assert "19:00 (Europe/Berlin)" in by_address["rina@example.com"]["text"]
        assert "13:00 (America/New_York)" in by_address["theo@example.com"]["text"]


def test_none_after_a_cancel(stack: Stack, players):
    start, due = "2030-04-10T17:00:00Z", "2030-04-10T16:00:00Z"
    before = stack.output.read_text().count("Reminders planned")
    meeting = book_game(stack, players, start, "2030-04-10T19:00:00Z")
    # the reminders are planned (from the stream), then the game is canceled before they are due
    deadline = time.monotonic() + 30
    while stack.output.read_text().count("Reminders planned") == before:
        assert time.monotonic() < deadline, stack.output.read_text()[-3000:]
        time.sleep(0.5)
    status, _, canceled = stack.call("PUT", f"/meeting/cancel/{meeting}", players["theo"])
    assert status == 200, canceled
    result = run_reminders(stack, due)
    assert result["sent"] == 0, result
    sent = direct_messages(stack, "")
    assert not [m for messages in sent.values() for m in messages if "10 Apr 2030" in m]
