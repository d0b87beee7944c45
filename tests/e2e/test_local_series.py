"""`make run` with the demo data: anna (Europe/Berlin) has a weekly series, and
`POST /_local/schedule/extendSeries` runs the daily job as of any time, once."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from local_stack import Stack, running_stack

from local.seed import DEMO_PASSWORD


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("local"), {"SEED": "1"}) as started:
        deadline = time.monotonic() + 90
        while "is running locally" not in started.output.read_text():  # the demo data is in
            assert time.monotonic() < deadline, started.output.read_text()
            time.sleep(0.2)
        assert "Demo data could not be created" not in started.output.read_text()
        yield started


def token_of(stack: Stack, username: str) -> str:
    cognito, client_id = stack.cognito(), stack.config["userPoolClientId"]
    for login in (username, f"{username}@example.com"):  # pools may sign in by email
        try:
            return cognito.initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": login, "PASSWORD": DEMO_PASSWORD},
            )["AuthenticationResult"]["IdToken"]
        except cognito.exceptions.ClientError:
            continue
    pytest.fail(f"{username} cannot sign in")


def test_the_demo_data_hold_a_weekly_series_that_extend_series_extends_once(stack: Stack):
    anna = token_of(stack, "anna")
    status, _, profile = stack.call("GET", "/user", anna)
    assert (status, profile["timezone"]) == (200, "Europe/Berlin")
    status, _, own = stack.call("GET", "/availability", anna)
    series = [a for a in own["availabilities"] if a.get("seriesId")]
    assert series, own
    assert {a["recurrence"]["rule"] for a in series} == {"FREQ=WEEKLY"}
    assert {a["recurrence"]["timezone"] for a in series} == {"Europe/Berlin"}
    # the same local time in Berlin every week (UTC moves with DST)
    assert len({a["seriesId"] for a in series}) == 1

    later = (datetime.now(UTC) + timedelta(days=15)).isoformat().replace("+00:00", "Z")
    status, _, ran = stack.call("POST", "/_local/schedule/extendSeries", body={"time": later})
    assert status == 200, ran
    first = ran["result"]
    status, _, ran = stack.call("POST", "/_local/schedule/extendSeries", body={"time": later})
    again = ran["result"]
    assert first["created"] >= 2 and again["created"] == 0, (first, again)

    status, _, own = stack.call("GET", "/availability", anna)
    starts = [a["startTime"] for a in own["availabilities"] if a.get("seriesId")]
    assert len(starts) == len(set(starts)) == len(series) + first["created"]
