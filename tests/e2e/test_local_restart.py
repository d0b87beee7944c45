"""`make run` stopped and started again, as a developer does all day: Ctrl-C or SIGTERM stops
it within seconds and exits 0 without a traceback, whatever is in flight; the next start finds
the tables and the users (same pool and client ids: tokens from before still work, and the
password signs in); FRESH=1 starts empty."""

import contextlib
import json
import signal
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from local_stack import Stack

from bench.load import start_stack

COHORT = "1200-1300"


def started(directory: Path, **settings: str) -> tuple[subprocess.Popen, Stack]:
    output = directory / f"output-{time.monotonic_ns()}.log"
    process, config = start_stack(output, {"LOCAL_DATA": str(directory / "data"), **settings})
    return process, Stack(config, output)


def stopped(process: subprocess.Popen, stack: Stack, signum: int) -> list[str]:
    """Stops the stack with `signum`: its exit status must be 0 within 20 s. Its log lines
    from "Stopping" on."""
    process.send_signal(signum)
    try:
        status = process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the stack did not stop within 20 s:\n{stack.output.read_text()}")
    lines = stack.output.read_text().splitlines()
    assert status == 0, "\n".join(lines)
    assert not [line for line in lines if "Traceback" in line], "\n".join(lines)
    return lines[next(i for i, line in enumerate(lines) if line.endswith("Stopping")) :]


def offer(owner: str, hours: int) -> dict:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)
    return {
        "owner": owner,
        "ownerDiscord": f"{owner}_dojo",
        "ownerCohort": COHORT,
        "startTime": start.isoformat(),
        "endTime": (start + timedelta(hours=1)).isoformat(),
        "types": ["CLASSICAL_GAME"],
        "cohorts": [COHORT],
    }


def publish(stack: Stack, token: str, availability: dict) -> None:
    """PUT /availability, waiting as long as a busy machine takes; cut off if the stack stops."""
    request = urllib.request.Request(
        stack.config["apiUrl"] + "/availability",
        data=json.dumps(availability).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}"},
    )
    with contextlib.suppress(OSError):  # HTTPError (a 502 as the environments stop) included
        urllib.request.urlopen(request, timeout=60).close()


def test_a_restart_keeps_the_tables_and_the_users(tmp_path):
    # GIVEN a stack where alice signed up and offered a game
    process, stack = started(tmp_path)
    try:
        signed_up = stack.sign_up_and_in("alice")
        token = signed_up["IdToken"]
        profile = {"dojoCohort": COHORT, "discordUsername": "alice_dojo"}
        assert stack.call("PUT", "/user", token, profile)[0] == 200
        status, _, availability = stack.call("PUT", "/availability", token, offer("alice", 30))
        assert status == 200, availability
    finally:
        stopped(process, stack, signal.SIGINT)  # Ctrl-C
    assert (tmp_path / "data" / "state.json").exists()

    # WHEN it starts again
    process, again = started(tmp_path)
    try:
        # THEN the same pool and client: alice's token from before still works
        for key in ("userPoolId", "userPoolClientId"):
            assert again.config[key] == stack.config[key]
        status, _, listed = again.call("GET", "/availability", token)
        assert status == 200
        assert [a["id"] for a in listed["availabilities"]] == [availability["id"]]
        assert again.call("GET", "/user", token)[2]["discordUsername"] == "alice_dojo"
        # and her password signs her in
        signed_in = again.cognito().initiate_auth(
            ClientId=again.config["userPoolClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": "Local-pass-1"},
        )["AuthenticationResult"]
        assert again.call("GET", "/user", signed_in["IdToken"])[0] == 200
        # and her refresh token from before refreshes
        refreshed = again.cognito().initiate_auth(
            ClientId=again.config["userPoolClientId"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": signed_up["RefreshToken"]},
        )["AuthenticationResult"]
        assert again.call("GET", "/user", refreshed["IdToken"])[0] == 200
    finally:
        stopped(process, again, signal.SIGTERM)

    # AND FRESH=1 starts empty
    process, fresh = started(tmp_path, FRESH="1")
    try:
        assert fresh.config["userPoolId"] != stack.config["userPoolId"]
        bob = fresh.sign_up_and_in("bob")["IdToken"]
        assert fresh.call("GET", "/public/user/alice", bob)[0] == 404
    finally:
        stopped(process, fresh, signal.SIGTERM)


def test_stopping_mid_notification_exits_0_without_a_word(tmp_path):
    # GIVEN a stack delivering notifications: thirty games offered at once, announced in
    # the channel through the stream
    process, stack = started(tmp_path)
    try:
        token = stack.sign_up_and_in("nina")["IdToken"]
        profile = {"dojoCohort": COHORT, "discordUsername": "nina_dojo"}
        assert stack.call("PUT", "/user", token, profile)[0] == 200
        threads = [
            threading.Thread(target=publish, args=(stack, token, offer("nina", 30 + hour)))
            for hour in range(30)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while "Discord post" not in stack.output.read_text():  # the first is being delivered
            assert time.monotonic() < deadline, stack.output.read_text()
            time.sleep(0.02)
    finally:
        # WHEN it is stopped (SIGTERM) there and then, requests still in flight
        after = stopped(process, stack, signal.SIGTERM)
        for thread in threads:
            thread.join()
    # THEN it stopped within seconds, exited 0, and after "Stopping" said only what the
    # functions served: no failed delivery, no retry, no traceback. (The deliveries that
    # finished meanwhile log as they do, at INFO.)
    stack_lines = [line for line in after if not line.startswith("{")]
    table = next(i for i, line in enumerate(stack_lines) if "What the functions served" in line)
    assert stack_lines[1:table] == []
    assert all(line.startswith("  ") for line in stack_lines[table + 1 :]), after
    function_lines = [json.loads(line) for line in after if line.startswith("{")]
    assert [line for line in function_lines if line["level"] != "INFO"] == []
