"""`make run` under load: a burst of 256 connections, and thirty players at once booking each
other's availabilities, against `python -m local` in a subprocess (bench/load.py drives it).

What must hold is what holds on AWS: no 5xx, no reset or refused connection, no traceback in
the stack's log, and every availability either still open or exactly one meeting both its
members list. No timing is asserted: `python -m bench.load` reports the throughput.
"""

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from bench.load import run, start_stack, stop_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    output = tmp_path_factory.mktemp("load") / "output.log"
    process, config = start_stack(output)
    try:
        yield config, output
    finally:
        stop_stack(process)


def _tracebacks(output: Path) -> list[str]:
    lines = output.read_text().splitlines()
    return [
        "\n".join(lines[i : i + 30]) for i, line in enumerate(lines) if "Traceback (most" in line
    ]


def test_a_burst_of_connections_is_served_not_reset(stack):
    config, output = stack
    clients = 256
    ready = threading.Barrier(clients)
    answers: list = []

    def connect() -> None:
        ready.wait()  # all connect at once
        try:
            url = config["apiUrl"] + "/public/user/nobody"  # through the function
            with urllib.request.urlopen(url, timeout=60) as response:
                answers.append(response.status)
        except urllib.error.HTTPError as error:
            answers.append(error.code)
        except OSError as error:
            answers.append(repr(error))

    threads = [threading.Thread(target=connect) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(answers) == {404: clients}
    assert _tracebacks(output) == []


def test_thirty_players_at_once_leave_no_contradiction(stack):
    config, output = stack
    outcome = run(config, clients=30)

    assert outcome.requests >= 1000
    assert outcome.failures == []  # no 5xx, no reset, no refused connection
    assert outcome.contradictions() == []
    assert len(outcome.created) == 30 * 8
    # The collisions happened: of the bookers of one slot, one won and the others were told.
    assert outcome.statuses["PUT /availability/book 200"] == len(outcome.booked) > 0
    assert (
        outcome.statuses["PUT /availability/book 404"]
        + outcome.statuses["PUT /availability/book 409"]
        > 0
    )
    assert _tracebacks(output) == []

    # Every function that served shows in the stack's stats, with its cold starts.
    with urllib.request.urlopen(config["apiUrl"] + "/_local/stats", timeout=10) as response:
        stats = json.load(response)
    booking = stats["functions"]["bookAvailability"]
    booked = sum(
        n for route, n in outcome.statuses.items() if route.startswith("PUT /availability/book ")
    )
    assert booking["requests"] == booked
    assert 1 <= booking["coldStarts"] <= stats["concurrencyPerFunction"]
    latency = booking["latencyMs"]
    assert latency["p50"] <= latency["p90"] <= latency["p99"]
    assert stats["functions"]["createUser"]["requests"] >= 30  # the sign-up trigger, too
