"""Independent DynamoDB calls at the same time: a request waits for the slowest of them, not
for their sum (at ~5–10 ms a round trip from Lambda, that is most of a warm request).

Threads, not an event loop: botocore's client is thread-safe, so every thread shares the
container's one client (and its connection pool), and `concurrent.futures` is loaded by the
handlers' imports already, so this costs no cold start (`make bench` measures it).
"""

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

# More than any request fans out to (a calendar reads 4 parts at once), and no more than the
# client's connection pool (botocore's default: 10), so no call waits for a connection.
WORKERS = 8


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(WORKERS, thread_name_prefix="dynamodb")


def together(*calls: Callable[[], Any]) -> list[Any]:
    """The results of `calls`, made concurrently (the first in this thread), in their order.
    An exception in any of them is raised here once all are done."""
    if len(calls) <= 1:
        return [call() for call in calls]
    # Each call in the caller's context (what contextvars hold: the local IAM role of tests).
    others = [_pool().submit(contextvars.copy_context().run, call) for call in calls[1:]]
    try:
        first = calls[0]()
    finally:
        wait(others)  # never leave a call running behind the request
    return [first, *(future.result() for future in others)]
