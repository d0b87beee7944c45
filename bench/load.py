"""Players at once against the local stack, the way a frontend under load would use it.

    .venv/bin/python -m bench.load [CLIENTS ...]   # default: 1 6 30; starts its own stack

Each client is one player: signs up through the Cognito endpoint (the trigger creates the
profile), picks a cohort, offers availabilities, then (all clients together, in a random order)
books the availabilities of the next players (several bookers per slot: deliberate collisions),
re-saves some of its own while they are being booked, and reads its lists. Each HTTP request is
a fresh connection, as a browser opening many at once. Afterwards every availability must be
either still open in its owner's list or exactly one meeting listed by both its members.
tests/e2e/test_local_load.py runs this and asserts the outcome; run as a script, it reports
throughput (requests per second) per number of clients, and any 5xx, reset, contradiction
(`wrong`: an availability both open and booked, or neither) and traceback.
"""

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Load-pass-1"
COHORT = "1200-1300"
TYPE = "CLASSICAL_GAME"
# No retries: a reset or refused connection must show, not be retried away.
COGNITO_CONFIG = Config(retries={"total_max_attempts": 1}, max_pool_connections=1)


@dataclass
class Outcome:
    clients: int
    requests: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)  # "PUT /availability/book 409": n
    failures: list[str] = field(default_factory=list)  # 5xx, resets, unexpected answers
    created: dict[str, str] = field(default_factory=dict)  # availability id -> owner
    booked: dict[str, list[str]] = field(default_factory=dict)  # id -> bookers answered 200
    open: dict[str, set[str]] = field(default_factory=dict)  # player -> ids in their list
    meetings: dict[str, list[dict]] = field(default_factory=dict)  # player -> their meetings
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def contradictions(self) -> list[str]:
        """Every created availability is open, or one meeting both members list; not both,
        not neither."""
        found = []
        listed: dict[str, list[tuple[str, dict]]] = {}
        for player, meetings in self.meetings.items():
            for meeting in meetings:
                listed.setdefault(meeting["id"], []).append((player, meeting))
        for availability_id, owner in self.created.items():
            is_open = availability_id in self.open.get(owner, set())
            members = listed.get(availability_id, [])
            winners = self.booked.get(availability_id, [])
            if is_open and members:
                found.append(f"{availability_id} of {owner}: open and booked {members}")
            elif not is_open and not members:
                found.append(f"{availability_id} of {owner}: neither open nor a meeting")
            elif members:
                meeting = members[0][1]
                expected = {meeting["owner"], meeting["participant"]}
                if sorted(p for p, _ in members) != sorted(expected) or meeting["owner"] != owner:
                    found.append(f"{availability_id} of {owner}: listed by {members}")
                elif winners != [meeting["participant"]]:
                    found.append(f"{availability_id}: meeting of {expected}, 200 for {winners}")
            elif winners:
                found.append(f"{availability_id}: open, yet booked by {winners}")
        return found


class Player:
    def __init__(self, config: dict[str, str], outcome: Outcome, username: str):
        self.config = config
        self.outcome = outcome
        self.username = username
        self.token = ""

    def call(self, method: str, path: str, body: Any = None, label: str = "") -> tuple[int, Any]:
        """Status and JSON body; (0, None) when the connection failed."""
        request = urllib.request.Request(
            self.config["apiUrl"] + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        route = f"{method} {label or path}"
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        except OSError as error:
            self._record(route, 0, f"{route}: {error!r}")
            return 0, None
        self._record(route, status, f"{route}: {status} {text[:200]!r}" if status >= 500 else None)
        return status, json.loads(text) if text else None

    def sign_up(self) -> None:
        cognito = boto3.client(
            "cognito-idp",
            endpoint_url=self.config["cognitoEndpoint"],
            region_name=self.config["region"],
            aws_access_key_id="load",
            aws_secret_access_key="load",
            config=COGNITO_CONFIG,
        )
        client_id = self.config["userPoolClientId"]
        steps = [
            ("SignUp", cognito.sign_up, {"Password": PASSWORD, "UserAttributes": [
                {"Name": "email", "Value": f"{self.username}@example.com"}]}),
            ("ConfirmSignUp", cognito.confirm_sign_up, {"ConfirmationCode": "0"}),
            ("InitiateAuth", cognito.initiate_auth, {}),
        ]  # fmt: skip
        for action, call, parameters in steps:
            if action == "InitiateAuth":
                parameters = {
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": self.username, "PASSWORD": PASSWORD},
                }
            else:
                parameters = {"Username": self.username, **parameters}
            try:
                answer = call(ClientId=client_id, **parameters)
            except ClientError as error:
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                self._record(f"Cognito {action}", status, f"Cognito {action}: {error}")
                return
            except BotoCoreError as error:
                self._record(f"Cognito {action}", 0, f"Cognito {action}: {error!r}")
                return
            self._record(f"Cognito {action}", 200, None)
        self.token = answer["AuthenticationResult"]["IdToken"]

    def offer(self, start: datetime) -> dict[str, Any]:
        return {
            "owner": self.username,
            "ownerDiscord": f"{self.username}#1",
            "ownerCohort": COHORT,
            "startTime": start.isoformat().replace("+00:00", "Z"),
            "endTime": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "types": [TYPE],
            "cohorts": ["ALL_COHORTS"],
        }

    def pages(self, path: str, name: str) -> list[dict]:
        items, start = [], None
        while True:
            query = f"?startKey={urllib.request.quote(start)}" if start else ""
            status, body = self.call("GET", path + query, label=path)
            if status != 200:
                self._record(f"GET {path}", status, f"GET {path}: {status} {body}")
                return items
            items += body[name]
            start = body.get("lastEvaluatedKey")
            if not start:
                return items

    def _record(self, route: str, status: int, failure: str | None) -> None:
        with self.outcome.lock:
            self.outcome.requests += 1
            self.outcome.statuses[f"{route} {status}"] += 1
            if failure:
                self.outcome.failures.append(failure)


def run(
    config: dict[str, str],
    clients: int,
    offers: int = 8,
    bookers: int = 3,
    resaves: int = 3,
    seed: int = 13,
) -> Outcome:
    """`clients` players at once; each offers `offers` availabilities, each of which `bookers`
    other players try to book while its owner re-saves `resaves` of them."""
    outcome = Outcome(clients)
    tag = f"{seed}{random.Random().randrange(16**6):06x}"  # unique per run on one stack
    players = [Player(config, outcome, f"load{tag}p{i}") for i in range(clients)]
    offered: dict[int, list[dict]] = {}
    barrier = threading.Barrier(clients)
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)

    def play(index: int) -> None:
        player, rng = players[index], random.Random(seed * 1000 + index)
        player.sign_up()
        player.call("PUT", "/user", {"dojoCohort": COHORT, "discordUsername": f"p{index}#1"})
        mine = []
        for slot in range(offers):
            start = base + timedelta(hours=index * offers + slot)
            status, body = player.call("PUT", "/availability", player.offer(start))
            if status == 200:
                mine.append(body)
                with outcome.lock:
                    outcome.created[body["id"]] = player.username
        offered[index] = mine
        barrier.wait()

        actions: list[tuple[str, Any]] = [("resave", a) for a in mine[:resaves]]
        for step in range(1, min(bookers, clients - 1) + 1):
            actions += [("book", a) for a in offered[(index + step) % clients]]
        actions += [("list", None), ("search", None), ("meetings", None)]
        rng.shuffle(actions)
        for action, availability in actions:
            if action == "book":
                booking = {k: availability[k] for k in ("owner", "id", "startTime")}
                status, _ = player.call("PUT", "/availability/book", {**booking, "type": TYPE})
                if status == 200:
                    with outcome.lock:
                        outcome.booked.setdefault(availability["id"], []).append(player.username)
            elif action == "resave":
                player.call("PUT", "/availability", availability)
            elif action == "list":
                player.call("GET", "/availability")
            elif action == "search":
                start = base.isoformat().replace("+00:00", "Z")
                query = f"?byTime=1&startTime={start}&limit=20"
                player.call("GET", f"/availability{query}", label="/availability?byTime")
            else:
                player.call("GET", "/meeting")
        barrier.wait()

        is_open = {a["id"] for a in player.pages("/availability", "availabilities")}
        meetings = player.pages("/meeting", "meetings")
        with outcome.lock:
            outcome.open[player.username] = is_open
            outcome.meetings[player.username] = meetings

    def guarded(index: int) -> None:
        try:
            play(index)
        except threading.BrokenBarrierError:
            pass
        except Exception as error:  # a bug in this driver must not hang the other clients
            with outcome.lock:
                outcome.failures.append(f"client {index}: {error!r}")
            barrier.abort()

    started = time.perf_counter()
    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.seconds = time.perf_counter() - started
    return outcome


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_stack(
    output: Path, settings: dict[str, str] | None = None
) -> tuple[subprocess.Popen, dict[str, str]]:
    """`python -m local` (SEED=0, and `settings`) on a free port, its output to `output`, once
    it answers. What it keeps across restarts goes in `output`'s folder, not the developer's
    `.local/`, unless `settings` names another LOCAL_DATA."""
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "POWERTOOLS_")) and not name.endswith("_TABLE")
    }
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env={
                **env,
                "PORT": str(port),
                "SEED": "0",
                "LOCAL_DATA": str(output.parent / "data"),
                **(settings or {}),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            url = f"http://127.0.0.1:{port}/_local/config"
            # Refused at once until it listens; then an answer may take seconds on a busy
            # machine, and a client that gave up would leave a broken pipe in its log.
            with urllib.request.urlopen(url, timeout=30) as response:
                return process, json.load(response)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the stack did not start:\n{output.read_text()}")


def stop_stack(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(counts: list[int]) -> None:
    """Per number of clients, a fresh stack: the workload once as it starts (every environment
    a cold start) and once more on the same stack, warm."""
    print("| clients | requests | cold stack: s | req/s | warm: s | req/s | 5xx or reset | wrong |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for clients in counts:
        with tempfile.TemporaryDirectory() as directory:
            output = Path(directory) / "output.log"
            process, config = start_stack(output)
            try:
                cold = run(config, clients)
                warm = run(config, clients, seed=14)
            finally:
                stop_stack(process)
            tracebacks = output.read_text().count("Traceback (most recent call last)")
        failures = len(cold.failures) + len(warm.failures)
        wrong = len(cold.contradictions()) + len(warm.contradictions())
        print(
            f"| {clients} | {cold.requests} | {cold.seconds:.1f} | {cold.throughput:.0f} | "
            f"{warm.seconds:.1f} | {warm.throughput:.0f} | {failures} | {wrong} |"
            + (f" {tracebacks} tracebacks in the log" if tracebacks else ""),
            flush=True,
        )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1, 6, 30])
