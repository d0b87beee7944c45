"""database.parallel.together: independent calls at once, results in order, failures raised,
one shared client."""

import threading

import pytest

from database.client import dynamodb
from database.parallel import together


def test_results_come_back_in_the_calls_order():
    assert together(lambda: 1, lambda: 2, lambda: 3) == [1, 2, 3]
    assert together(lambda: "alone") == ["alone"]
    assert together() == []


def test_the_calls_run_at_the_same_time():
    # Each call waits for the other: run one after the other, they would never meet.
    meeting = threading.Barrier(2, timeout=10)

    assert together(meeting.wait, meeting.wait) in ([0, 1], [1, 0])


def test_a_failure_is_raised_once_every_call_is_done():
    finished = threading.Event()

    def slow():
        finished.wait(0.05)
        finished.set()

    def broken():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        together(broken, slow)
    assert finished.is_set()


def test_every_thread_shares_the_one_client(tables):
    clients = together(dynamodb, dynamodb, dynamodb)

    assert all(client is tables for client in clients)


def test_threads_asking_at_once_on_a_cold_start_get_one_client(tables):
    # As a calendar's first request does: four threads ask before any client exists.
    dynamodb.cache_clear()
    start = threading.Barrier(4, timeout=10)

    def first_call():
        start.wait()
        return dynamodb()

    clients = together(first_call, first_call, first_call, first_call)

    assert len({id(client) for client in clients}) == 1
