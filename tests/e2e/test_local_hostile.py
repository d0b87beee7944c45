"""Hostile requests against `make run` over HTTP (issue 17): each is answered with a 4xx, and
the stack prints no traceback."""

import base64
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from local_stack import Stack, running_stack

DEEP = "[" * 100_000 + "]" * 100_000
SURROGATE = '{"discordUsername": "\\ud800x"}'
NOT_AN_ID = ["a1", "seat%23x%23alice", "x" * 3000, "%ED%A0%80", "%00"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("local")) as started:
        yield started


def send(stack: Stack, method: str, path: str, token: str, body: str | None = None) -> int:
    request = urllib.request.Request(
        stack.config["apiUrl"] + path,
        data=None if body is None else body.encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def token(plain: str) -> str:
    return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")


def test_hostile_requests_are_4xx_and_print_no_traceback(stack: Stack):
    alice = stack.sign_up_and_in("alice")["IdToken"]
    assert send(stack, "PUT", "/user", alice, '{"dojoCohort": "1500-1600"}') == 200
    availability = (
        '{"owner": "alice", "ownerDiscord": "alice#1", "ownerCohort": "1500-1600", '
        '"startTime": "2030-01-01T09:00:00Z", "endTime": "%s", "types": %s, "cohorts": %s%s}'
    )
    requests = [
        ("PUT", "/availability", DEEP),
        ("PUT", "/availability/book", DEEP),
        ("PUT", "/user", DEEP),
        ("PUT", "/user", SURROGATE),
        ("PUT", "/availability", availability % ("9999-12-31T23:00:00Z", '["BOOK_STUDY"]', '["0-400"]', "")),  # noqa: E501
        ("PUT", "/availability", availability % ("2030-01-01T12:00:00Z", '["BOOK_STUDY"]', '["0-400"]', ', "id": "seat#x#alice"')),  # noqa: E501
        ("PUT", "/availability", availability % ("2030-01-01T12:00:00Z", "[" + '"BOOK_STUDY",' * 50_000 + '"BOOK_STUDY"]', '["0-400"]', "")),  # noqa: E501
        ("PUT", "/availability/book", '{"owner": "bob", "id": "' + "x" * 5000 + '"}'),
        ("GET", "/availability?startKey=" + token(DEEP), None),
        ("GET", "/meeting?startKey=" + token('{"owner": "alice", "id": "\\ud800"}'), None),
        ("GET", "/calendar?startKey=" + token('{"joined": {"joinedBy": "alice", "startTime": "x", "id": "y"}}'), None),  # noqa: E501
        *(("GET", f"/meeting/{bad}", None) for bad in NOT_AN_ID),
        *(("DELETE", f"/availability/{bad}", None) for bad in NOT_AN_ID),
        *(("PUT", f"/meeting/cancel/{bad}", None) for bad in NOT_AN_ID),
        ("GET", "/public/user/" + "u" * 3000, None),
    ]  # fmt: skip

    statuses = {
        (method, path[:60]): send(stack, method, path, alice, body)
        for method, path, body in requests
    }

    assert all(400 <= status < 500 for status in statuses.values()), statuses
    assert "Traceback" not in stack.output.read_text()
