"""The calendar feed on `make run` (contract v4, "Calendar feed (iCalendar)"; issue 31's "done
when"): the console shows the demo player's address; a player's address, fetched over HTTP as a
calendar app fetches it, parses in two independent readers (the `icalendar` package and
tests/ics_reader.py); a cancel shows there as CANCELLED with a higher SEQUENCE; a rotated
address stops working."""

import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from icalendar import Calendar
from ics_reader import simple_events
from local_stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("local"), {"SEED": "1"}) as started:
        deadline = time.monotonic() + 90
        while "is running locally" not in started.output.read_text():  # the demo data is in
            assert time.monotonic() < deadline, started.output.read_text()
            time.sleep(0.2)
        assert "Demo data could not be created" not in started.output.read_text()
        yield started


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET as a calendar app does: no JWT, whatever the body."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def events(url: str) -> dict[str, tuple[str, int]]:
    """UID -> (STATUS, SEQUENCE), the same in both readers."""
    status, headers, text = fetch(url)
    assert status == 200, text
    assert headers["Content-Type"] == "text/calendar; charset=utf-8"
    parsed = {
        str(event["UID"]): (str(event["STATUS"]), int(event["SEQUENCE"]))
        for event in Calendar.from_ical(text).walk("VEVENT")
    }
    simple = {
        uid: (event["STATUS"], int(event["SEQUENCE"])) for uid, event in simple_events(text).items()
    }
    assert parsed == simple
    return parsed


def test_the_console_shows_the_demo_players_address_and_it_parses(stack: Stack):
    found = re.search(r"Calendar feed\s+(\S+\.ics)", stack.output.read_text())
    assert found, stack.output.read_text()[-3000:]
    events(found[1])  # a VCALENDAR both readers read


def test_a_players_feed_shows_a_cancel_and_a_rotated_address_stops_working(stack: Stack):
    coach = stack.sign_up_and_in("feedcoach")["IdToken"]
    player = stack.sign_up_and_in("feedplayer")["IdToken"]
    slot = {
        "owner": "feedcoach",
        "ownerDiscord": "feedcoach#1",
        "ownerCohort": "1500-1600",
        "startTime": "2030-04-01T10:00:00Z",
        "endTime": "2030-04-01T12:00:00Z",
        "types": ["CLASSICAL_GAME"],
        "cohorts": ["ALL_COHORTS"],
        "location": 'Room 5, "A"; back\\slash',
    }
    status, _, published = stack.call("PUT", "/availability", coach, slot)
    assert status == 200, published
    booking = {"owner": "feedcoach", "id": published["id"], "type": "CLASSICAL_GAME"}
    booking["startTime"] = "2030-04-01T10:00:00Z"
    status, _, meeting = stack.call("PUT", "/availability/book", player, booking)
    assert status == 200, meeting
    status, _, address = stack.call("POST", "/user/calendar-feed", player, {})
    assert status == 200, address
    url = address["url"]
    uid = f"{meeting['id']}@dojo-scheduler"

    before = events(url)[uid]
    assert before[0] == "CONFIRMED"

    status, _, canceled = stack.call("PUT", f"/meeting/cancel/{meeting['id']}", player)
    assert status == 200, canceled
    after = events(url)[uid]
    assert after[0] == "CANCELLED" and after[1] > before[1]

    status, _, rotated = stack.call("POST", "/user/calendar-feed", player, {})
    assert status == 200, rotated
    gone, _, text = fetch(url)
    assert gone == 404 and b"Not found" in text
    assert events(rotated["url"])[uid][0] == "CANCELLED"
