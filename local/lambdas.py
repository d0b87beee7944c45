"""The functions of serverless.yml, run as Lambda runs them: each invocation in an execution
environment of its own function, one invocation at a time per environment.

An environment is a `python -m local.runtime` process that imports the function's handler once
(a cold start) and then serves invocations over a socket pair while it is kept warm. A function
gets a new environment whenever all of its environments are busy, up to `concurrency`; beyond
that a request waits for one to free up (Lambda would start more; the wait shows in the stats).
So what a handler keeps between invocations (the logger's keys, the cached DynamoDB client)
belongs to one environment and never serves two requests at once. An environment whose code
changed (a file under WATCHED it imported, as local/runtime.py reports) is not used again: the
next request starts a new one, which runs the new code.
"""

import json
import logging
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path
from typing import Any

from local import iam
from local.serverless import ACCOUNT_ID, REGION, Function, Service

log = logging.getLogger("local")

DEFAULT_CONCURRENCY = 10  # environments per function
# The project's code: a function's environments are replaced once a file of it that they
# imported changes, so an edit shows at the next request, without a restart. Every package at
# the top of the project is product code but the stack itself (a change to local/ needs a
# restart) and the bench, so a new package is watched without being listed here (a list once
# left membership/, tournaments/ and counters/ out, and their edits silently ran old code).
ROOT = Path(__file__).resolve().parent.parent
NOT_PRODUCT = frozenset({"local", "bench"})
WATCHED = tuple(
    sorted(
        init.parent for init in ROOT.glob("*/__init__.py") if init.parent.name not in NOT_PRODUCT
    )
)
# Latencies kept per function for the percentiles: a uniform sample of all of them (a
# reservoir), so the stats of a stack left running all day stay this size.
LATENCY_SAMPLE = 10_000

# Lambda's payload quota for a synchronous invocation, on the event and on the result as JSON
# (the figures its errors name).
MAX_EVENT_BYTES = 6 * 1024 * 1024
MAX_RESULT_BYTES = 6 * 1024 * 1024 + 100
# What frames the event and the result on the socket (local.runtime): not the payload.
_EVENT_FRAME = len('{"event": }\n')
_RESULT_FRAME = len('{"result": }\n')


class FunctionError(Exception):
    """The function raised (its traceback is in the function's log, as on Lambda), or its
    environment could not start or died. The message is Lambda's `errorMessage`."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type  # RuntimeError, Sandbox.Timedout, ...


class TimedOut(FunctionError):
    """Lambda stops an invocation at the function's timeout, and its environment with it."""


class EventTooLarge(FunctionError):
    """Lambda refuses to invoke the function with an event over its quota: nothing runs."""


class ResultTooLarge(FunctionError):
    """The function ran, but returned more than Lambda hands back: its result is lost."""


class Environment:
    """One warm (or warming) execution environment of `function`."""

    def __init__(self, function: Function, spec: dict[str, Any]):
        self.function = function
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local.runtime", str(theirs.fileno()), json.dumps(spec)],
                pass_fds=[theirs.fileno()],
                env=_runtime_environment(),
            )
        self.channel = ours
        self.reader, self.writer = ours.makefile("rb"), ours.makefile("wb")
        self.code: dict[str, int] = {}  # the project's files it imported: modification times
        ready = self._receive()
        if "errorType" in ready:
            self.close()
            raise FunctionError(ready["errorType"], ready["errorMessage"])

    def invoke(self, event: dict[str, Any]) -> Any:
        request = json.dumps({"event": event}).encode() + b"\n"
        if len(request) - _EVENT_FRAME > MAX_EVENT_BYTES:
            message = (
                f"Request must be smaller than {MAX_EVENT_BYTES} bytes for the Invoke operation"
            )
            raise EventTooLarge("RequestEntityTooLargeException", message)
        self.channel.settimeout(self.function.timeout)
        self.writer.write(request)
        self.writer.flush()
        try:
            line = self.reader.readline()
        except TimeoutError:
            message = f"Task timed out after {self.function.timeout:.2f} seconds"
            raise TimedOut("Sandbox.Timedout", message) from None
        answer = self._parse(line)
        if "result" in answer and len(line) - _RESULT_FRAME > MAX_RESULT_BYTES:
            message = (
                f"Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESULT_BYTES} bytes)."
            )
            raise ResultTooLarge("Function.ResponseSizeTooLarge", message)
        if "errorType" in answer:
            raise FunctionError(answer["errorType"], answer["errorMessage"])
        return answer["result"]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def stale(self) -> bool:
        """A file of the project it runs has changed (or gone) since it imported it."""
        for path, modified in self.code.items():
            try:
                if os.stat(path).st_mtime_ns != modified:
                    return True
            except OSError:
                return True
        return False

    def _receive(self) -> dict[str, Any]:
        return self._parse(self.reader.readline())

    def _parse(self, line: bytes) -> dict[str, Any]:
        if not line:
            status = self.process.wait()
            raise FunctionError("Runtime.ExitError", f"the environment exited ({status})")
        message = json.loads(line)
        self.code = message.pop("code", self.code)
        return message

    def close(self, wait: bool = True) -> None:
        for stream in (self.reader, self.writer, self.channel):
            stream.close()
        self.process.kill()
        if wait:
            self.process.wait()


class FunctionStats:
    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.cold_starts = 0
        self.latencies_ms = array("d")  # a uniform sample (reservoir) of every latency

    def record(self, latency_ms: float) -> None:
        """Counts one latency into the sample (Vitter's algorithm R)."""
        seen = self.requests  # this one included: counted before
        if len(self.latencies_ms) < LATENCY_SAMPLE:
            self.latencies_ms.append(latency_ms)
        elif (slot := random.randrange(seen)) < LATENCY_SAMPLE:
            self.latencies_ms[slot] = latency_ms

    def as_json(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "coldStarts": self.cold_starts,
            "latencyMs": {
                name: round(_percentile(ordered, share), 1)
                for name, share in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
            }
            if ordered
            else None,
        }


class _Pool:
    """A function's environments: idle ones are reused, most recently used first (as warm as
    can be); a new one is started only when all are busy and fewer than `limit` exist."""

    def __init__(self, function: Function, spec: dict[str, Any], limit: int):
        self.function = function
        self.spec = spec
        self.limit = limit
        self.idle: list[Environment] = []
        self.busy: set[Environment] = set()
        self.started = 0  # alive: idle or busy (or starting)
        self.closed = False
        self.changed = threading.Condition()
        self.stats = FunctionStats()

    def acquire(self) -> tuple[Environment, bool]:
        """An environment for one invocation, and whether it is a cold start."""
        with self.changed:
            while not self.idle and self.started >= self.limit and not self.closed:
                self.changed.wait()
            if self.closed:
                raise FunctionError("Runtime.ExitError", "the stack is stopping")
            while self.idle:
                environment = self.idle.pop()
                if environment.stale:  # its code changed: the next environment imports it anew
                    environment.close(wait=False)
                    self.started -= 1
                    continue
                self.busy.add(environment)
                return environment, False
            self.started += 1
        try:
            environment = Environment(self.function, self.spec)  # outside the lock: slow
        except BaseException:
            self._discarded()
            raise
        with self.changed:
            self.busy.add(environment)
        return environment, True

    def release(self, environment: Environment, reusable: bool) -> None:
        with self.changed:
            self.busy.discard(environment)
            reusable = reusable and not self.closed
            if reusable:
                self.idle.append(environment)
                self.changed.notify()
        if not reusable:
            environment.close()
            self._discarded()

    def _discarded(self) -> None:
        with self.changed:
            self.started -= 1
            self.changed.notify()

    def close(self) -> list[Environment]:
        """Stops every environment, idle or busy (its invocation fails), without waiting for
        them to exit; returns them."""
        with self.changed:
            self.closed = True
            idle, busy, self.idle = self.idle, list(self.busy), []
            self.changed.notify_all()
        for environment in idle:
            environment.close(wait=False)
        for environment in busy:  # its invocation reads the end of the channel: ExitError
            environment.process.kill()
        return idle + busy


class Lambdas:
    def __init__(
        self,
        service: Service,
        concurrency: int = DEFAULT_CONCURRENCY,
        watch: tuple[Path, ...] = WATCHED,
    ):
        self.service = service
        self.concurrency = concurrency
        _check_imports(service.functions.values())
        self._pools = {
            name: _Pool(
                function, {**_spec(service, function), "watch": list(map(str, watch))}, concurrency
            )
            for name, function in service.functions.items()
        }
        self._stats_lock = threading.Lock()

    def invoke(self, function: Function, event: dict[str, Any]) -> Any:
        pool = self._pools[function.name]
        started = time.perf_counter()
        cold = failed = True
        try:
            environment, cold = pool.acquire()
            reusable = False
            try:
                result = environment.invoke(event)
                reusable, failed = True, False
                return result
            except FunctionError as error:
                # A handler that raised leaves its environment warm; a timeout or a crash not.
                reusable = environment.alive and not isinstance(error, TimedOut)
                raise
            finally:
                pool.release(environment, reusable)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            with self._stats_lock:
                pool.stats.requests += 1
                pool.stats.errors += failed
                pool.stats.cold_starts += cold
                pool.stats.record(elapsed_ms)

    def stats(self) -> dict[str, Any]:
        """Per function: requests served, errors, environments started (cold starts) and
        latency percentiles (waiting for an environment and its cold start included)."""
        with self._stats_lock:
            return {
                "concurrencyPerFunction": self.concurrency,
                "functions": {name: pool.stats.as_json() for name, pool in self._pools.items()},
            }

    def close(self) -> None:
        stopped = [environment for pool in self._pools.values() for environment in pool.close()]
        for environment in stopped:  # all at once, then reaped
            environment.process.wait()


def stats_table(stats: dict[str, Any]) -> str:
    """The stats as the lines `make run` prints when it stops."""
    lines = [
        f"  {'function':<20} {'requests':>8} {'errors':>6} {'cold':>5} "
        f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
    ]
    for name, function in stats["functions"].items():
        latency = function["latencyMs"] or {}
        lines.append(
            f"  {name:<20} {function['requests']:>8} {function['errors']:>6} "
            f"{function['coldStarts']:>5} "
            + " ".join(
                f"{latency[p]:>8.1f}" if latency else f"{'-':>8}" for p in ("p50", "p90", "p99")
            )
        )
    return "\n".join(lines)


def _spec(service: Service, function: Function) -> dict[str, Any]:
    name = f"{service.name}-{service.stage}-{function.name}"
    return {
        "module": function.module,
        "attribute": function.attribute,
        "functionName": name,
        "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
        "memory": function.memory,
        "timeout": function.timeout,
        # Its own IAM role: every AWS call it makes is checked against it (local/iam.py).
        "role": iam.role(service, function.name).as_json(),
        "partitionKeys": iam.partition_keys(service),
    }


def _runtime_environment() -> dict[str, str]:
    # The stack's environment (the functions' variables, AWS_ENDPOINT_URL to moto), this
    # process's import path (so the environment finds what the stack finds), and unbuffered
    # output so log lines show as they are written.
    path = os.pathsep.join(entry for entry in sys.path if entry)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def _check_imports(functions: Any) -> None:
    """Every handler imported once, in a process of its own, at start: a broken import shows
    at once rather than on the function's first request."""
    code = (
        "import importlib, sys\n"
        "for module, attribute in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        "    getattr(importlib.import_module(module), attribute)\n"
    )
    names = [part for function in functions for part in (function.module, function.attribute)]
    checked = subprocess.run(
        [sys.executable, "-c", code, *names],
        env=_runtime_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if checked.returncode != 0:
        raise FunctionError("Runtime.ImportModuleError", f"a handler failed:\n{checked.stderr}")


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending series."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
