"""`make run` through a working day (bench/day.py): after 10,000 bookings and cancels, each
with its notification, the stack's memory has grown by less than 300 MB over its footprint
once every function ran, and a booking's median latency is within 1.5× the fresh stack's (a
ratio against a floor measured in the same run, on the same machine).

Minutes long, so not part of `make test`: run it with
    LOCAL_DAY=1 .venv/bin/python -m pytest tests/e2e/test_local_day.py
(`make bench-day` prints the same figures)."""

import os

import pytest

from bench.day import LATENCY_BOUND, MEMORY_BOUND, measure
from bench.load import start_stack, stop_stack

OPERATIONS = 10_000


@pytest.mark.skipif(
    not os.environ.get("LOCAL_DAY"), reason="minutes long: LOCAL_DAY=1 runs it (make bench-day)"
)
def test_ten_thousand_bookings_and_cancels_keep_memory_and_latency_flat(tmp_path):
    process, config = start_stack(tmp_path / "output.log")
    try:
        day = measure(config, process.pid, OPERATIONS)
    finally:
        stop_stack(process)
    assert day.failures == []
    assert day.samples[-1].operations == OPERATIONS
    assert day.growth < MEMORY_BOUND, day.samples
    assert day.slowdown <= LATENCY_BOUND, day.samples
    assert "Traceback" not in (tmp_path / "output.log").read_text()
