"""`make run` through a working day: memory and booking latency as the data grows.

    .venv/bin/python -m bench.day [OPERATIONS]   # default 10000; `make bench-day`; minutes

Starts its own stack (a fresh one, its data in a temporary folder) and drives it as players
do all day: PLAYERS players at once, each in turn publishing an availability that the next
player books and then cancels, with Discord names, so every booking and cancel is also a
notification through the stream. An operation is a booking or a cancel (each booking follows
a publish, not counted). After a warm-up that runs every function involved (the footprint),
then at 1,000 operations and at the end, it measures the resident memory of the whole stack
(the `python -m local` process and every execution environment it started: the sum of their
RSS) and the median latency of the last BOOKINGS bookings (as the client sees them). The
bounds tests/e2e/test_local_day.py checks: memory grew by less than MEMORY_BOUND over the
footprint, and the booking median is within LATENCY_BOUND × the fresh stack's. The table is
printed as it grows, then written into docs/performance.md (between its `bench:day` markers,
with the commit and the date).
"""

import json
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bench import doc
from bench.load import start_stack, stop_stack

PLAYERS = 4
PASSWORD = "Day-pass-1"
COHORT = "1200-1300"
TYPE = "CLASSICAL_GAME"
WARM_UP = 200  # operations before the footprint: every function has run, environments warm
BOOKINGS = 200  # the latest bookings whose median is reported
MEMORY_BOUND = 300 * 1024 * 1024  # bytes over the footprint
LATENCY_BOUND = 1.5  # × the booking median on the fresh stack


@dataclass
class Sample:
    operations: int
    rss: int  # bytes, the whole stack
    booking_ms: float  # median of the latest bookings
    main_rss: int = 0  # bytes, the `python -m local` process alone
    environments: int = 0  # execution environments running


@dataclass
class Day:
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def footprint(self) -> Sample:
        return self.samples[0]

    @property
    def growth(self) -> int:
        return self.samples[-1].rss - self.footprint.rss

    @property
    def slowdown(self) -> float:
        return self.samples[-1].booking_ms / self.footprint.booking_ms


def stack_rss(pid: int) -> tuple[int, int, int]:
    """The resident memory (bytes) of process `pid` and all its descendants, from /proc; that
    of `pid` alone; and how many descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    total, main, count, pending = 0, 0, -1, [pid]
    while pending:
        current = pending.pop()
        pending += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        count += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
                main = main or total
    return total, main, count


class Player:
    def __init__(self, config: dict[str, str], username: str):
        self.config = config
        self.username = username
        cognito = boto3.client(
            "cognito-idp",
            endpoint_url=config["cognitoEndpoint"],
            region_name=config["region"],
            aws_access_key_id="day",
            aws_secret_access_key="day",
            config=Config(retries={"total_max_attempts": 1}),
        )
        client_id = config["userPoolClientId"]
        attributes = [{"Name": "email", "Value": f"{username}@example.com"}]
        cognito.sign_up(
            ClientId=client_id, Username=username, Password=PASSWORD, UserAttributes=attributes
        )
        cognito.confirm_sign_up(ClientId=client_id, Username=username, ConfirmationCode="0")
        self.token = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]["IdToken"]
        profile = {"dojoCohort": COHORT, "discordUsername": f"{username}_dojo"}
        self.call("PUT", "/user", profile)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """Status, JSON body and milliseconds taken."""
        request = urllib.request.Request(
            self.config["apiUrl"] + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        elapsed = (time.perf_counter() - started) * 1000
        return status, json.loads(text) if text else None, elapsed


class Workload:
    """The players' cycles (publish, book, cancel), `operations` at a time from any thread."""

    def __init__(self, config: dict[str, str], tag: str):
        self.players = [Player(config, f"day{tag}p{i}") for i in range(PLAYERS)]
        self.lock = threading.Lock()
        self.bookings_ms: list[float] = []
        self.failures: list[str] = []
        self.slot = 0
        self.base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)

    def cycle(self, index: int) -> None:
        """Player `index` publishes a slot, the next player books it, then cancels."""
        owner, booker = self.players[index], self.players[(index + 1) % PLAYERS]
        with self.lock:
            start, self.slot = self.base + timedelta(minutes=30 * self.slot), self.slot + 1
        offer = {
            "owner": owner.username,
            "ownerDiscord": f"{owner.username}_dojo",
            "ownerCohort": COHORT,
            "startTime": start.isoformat().replace("+00:00", "Z"),
            "endTime": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
            "types": [TYPE],
            "cohorts": [COHORT],
        }
        status, availability, _ = owner.call("PUT", "/availability", offer)
        if status != 200:
            return self._failed(f"publish: {status} {availability}")
        booking = {k: availability[k] for k in ("owner", "id", "startTime")}
        status, meeting, elapsed = booker.call(
            "PUT", "/availability/book", {**booking, "type": TYPE}
        )
        if status != 200:
            return self._failed(f"book: {status} {meeting}")
        with self.lock:
            self.bookings_ms.append(elapsed)
        status, answer, _ = booker.call("PUT", f"/meeting/cancel/{meeting['id']}")
        if status != 200:
            self._failed(f"cancel: {status} {answer}")

    def run(self, operations: int) -> None:
        """`operations` (bookings and cancels: two per cycle), the players at once."""
        cycles = iter(range(operations // 2))

        def play(index: int) -> None:
            for _ in cycles:  # shared: each cycle taken once
                self.cycle(index)

        threads = [threading.Thread(target=play, args=(i,)) for i in range(PLAYERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def booking_median(self) -> float:
        with self.lock:
            return statistics.median(self.bookings_ms[-BOOKINGS:])

    def _failed(self, failure: str) -> None:
        with self.lock:
            self.failures.append(failure)


def measure(
    config: dict[str, str],
    pid: int,
    operations: int,
    report: Callable[[Sample], None] = lambda sample: None,
) -> Day:
    """The workload on a started stack (its process `pid`): the footprint after the warm-up
    (0 operations, with the median of the next BOOKINGS bookings), then at 1,000 and at
    `operations`."""
    day = Day()
    workload = Workload(config, f"{os.getpid()}{int(time.time()) % 100000}")
    workload.run(WARM_UP)
    time.sleep(2.0)  # the stream's notifications of the warm-up delivered, too
    footprint = stack_rss(pid)
    # The fresh stack's booking median: the first BOOKINGS bookings after the warm-up.
    workload.bookings_ms.clear()
    workload.run(2 * BOOKINGS)
    done = 2 * BOOKINGS
    fresh = statistics.median(workload.bookings_ms[:BOOKINGS])
    day.samples.append(Sample(0, footprint[0], fresh, footprint[1], footprint[2]))
    report(day.samples[-1])
    for target in (1000, operations):
        if target <= done:
            continue
        workload.run(target - done)
        done = target
        time.sleep(2.0)
        rss, main, environments = stack_rss(pid)
        day.samples.append(Sample(done, rss, workload.booking_median(), main, environments))
        report(day.samples[-1])
    day.failures = workload.failures
    return day


def main(operations: int) -> int:
    doc.check("day")  # a doc without its markers fails now, not after minutes of driving
    started_at, code = datetime.now(UTC), doc.revision()
    lines = [
        "| operations | stack RSS MB | growth MB | of which `python -m local` MB | environments "
        "| booking p50 ms | × fresh |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    samples: list[Sample] = []

    def report(sample: Sample) -> None:
        samples.append(sample)
        fresh = samples[0]
        lines.append(
            f"| {sample.operations:,} | {sample.rss / 2**20:,.0f} | "
            f"{(sample.rss - fresh.rss) / 2**20:,.0f} | {sample.main_rss / 2**20:,.0f} | "
            f"{sample.environments} | {sample.booking_ms:.1f} | "
            f"{sample.booking_ms / fresh.booking_ms:.2f} |"
        )
        print(lines[-1], flush=True)

    with tempfile.TemporaryDirectory() as directory:
        process, config = start_stack(Path(directory) / "output.log")
        try:
            day = measure(config, process.pid, operations, report)
        finally:
            stop_stack(process)
    within = day.growth < MEMORY_BOUND and day.slowdown <= LATENCY_BOUND
    verdict = (
        f"Growth {day.growth / 2**20:.0f} MB (bound {MEMORY_BOUND / 2**20:.0f}), booking "
        f"median {day.slowdown:.2f}× fresh (bound {LATENCY_BOUND}): "
        + ("within" if within else "OUT OF BOUNDS")
        + (
            f"; {len(day.failures)} failed requests, e.g. {day.failures[:3]}"
            if day.failures
            else ""
        )
    )
    print(f"\n{verdict}")
    command = shlex.join(["python", "-m", "bench.day", *sys.argv[1:]])
    body = "\n".join([*lines, "", verdict + "."])
    doc.write("day", body, command=command, code=code, when=started_at)
    print(f"written into {doc.DOC.relative_to(doc.ROOT)} (commit it with the code it measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if sys.argv[1:] else 10_000))
