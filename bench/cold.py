"""Cold starts: a fresh interpreter imports a handler and serves one real request against a
DynamoDB emulator (a moto server in its own process), timed from spawn until the child prints
its result. Not until it exits: tearing down an interpreter that created a botocore client
takes a further ~100 ms here, which a Lambda container, frozen after the response and reused,
never spends on a request; it would only dilute the ratios.

The floor is the least any Python function on DynamoDB does: import boto3, create a client,
make one GetItem.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager

from bench.cases import ROOT, TABLE_ENV, USERS, seed_items

FLOOR = "floor"
IMPORT_RUNS = 3  # `-X importtime` runs per handler, after the timed rounds

# The child reports how its time splits: imports, then the request (including creating the
# client). Interpreter start-up (and reading the result) is the rest of the wall-clock time.
CHILD = """\
import json, sys, time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
{call}
t2 = time.perf_counter()
print("BENCH " + json.dumps({{"status": status, "import": t1 - t0, "call": t2 - t1}}), flush=True)
"""
HANDLER_CHILD = CHILD.format(
    imports="import importlib\nmodule = importlib.import_module(sys.argv[1])",
    call="result = module.handler(json.loads(sys.argv[2]), None)\n"
    "status = result.get('statusCode', 200)",
)
FLOOR_CHILD = CHILD.format(
    imports="import boto3",
    call="client = boto3.client('dynamodb')\n"
    f"item = client.get_item(TableName={USERS!r}, Key={{'username': {{'S': 'alice'}}}})\n"
    "status = 200 if 'Item' in item else 404",
)


def child_env(endpoint: str) -> dict[str, str]:
    """A Lambda-like environment: table names, dummy credentials, nothing from this shell
    that changes how Python or botocore behave (no PYTHONDONTWRITEBYTECODE, no ~/.aws)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TZ") if name in os.environ}
    env.update(
        TABLE_ENV,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_SESSION_TOKEN="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        stage="bench",
        LOG_LEVEL="INFO",  # as serverless.yml sets them
        POWERTOOLS_SERVICE_NAME="dojo-scheduler",
    )
    return env


class Failed(Exception):
    """A request that did not succeed; the message is the child's last line of output."""


def command(case, round: int, *flags: str) -> list[str]:
    python = [sys.executable, "-X", "frozen_modules=on", *flags, "-c"]
    if case is None:
        return [*python, FLOOR_CHILD]
    return [*python, HANDLER_CHILD, case.module, json.dumps(case.event(round))]


def case_env(case, env: dict) -> dict:
    """`env` plus the case's feature settings (a tournament or payment function's)."""
    return {**env, **case.env} if case is not None else env


def run_child(case, round: int, env: dict) -> tuple[float, dict]:
    """(seconds from spawn to the child's result, the result); Failed unless it answered 200."""
    started = time.perf_counter()
    with subprocess.Popen(
        command(case, round),
        cwd=ROOT,
        env=case_env(case, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        output = []
        for line in proc.stdout:
            if line.startswith("BENCH "):
                wall = time.perf_counter() - started
                report = json.loads(line.removeprefix("BENCH "))
                return wall, check(report, output, case.succeeds_with if case else 200)
            output.append(line)
    raise Failed(last_line(output) or f"exit status {proc.returncode}")


def importtime_child(case, round: int, env: dict) -> str:
    """The child's `-X importtime` report (its stderr)."""
    proc = subprocess.run(
        command(case, round, "-X", "importtime"),
        cwd=ROOT,
        env=case_env(case, env),
        capture_output=True,
        text=True,
    )
    reports = [line for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if not reports:
        raise Failed(last_line(proc.stdout.splitlines() + proc.stderr.splitlines()))
    report = json.loads(reports[-1].removeprefix("BENCH "))
    check(report, proc.stdout.splitlines(), case.succeeds_with if case else 200)
    return proc.stderr


def check(report: dict, output: list[str], expected: int = 200) -> dict:
    if report["status"] != expected:
        raise Failed(f"status {report['status']}: {last_line(output)}")
    return report


def last_line(lines: list[str]) -> str:
    lines = [line.strip() for line in lines if line.strip()]
    return lines[-1] if lines else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def emulator(rounds: int):
    """A moto server on a free port, its tables built from serverless.yml and seeded for
    rounds 0..`rounds`; yields its endpoint."""
    import boto3

    from database.client import to_item
    from support import create_tables

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        for _ in range(100):
            try:
                client.list_tables()
                break
            except Exception:
                time.sleep(0.1)
        create_tables(client)
        for table, items in seed_items(rounds).items():
            for item in items:
                client.put_item(TableName=table, Item=to_item(item))
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure(cases, rounds: int, rng, progress) -> dict:
    """Interleaved rounds: each round runs the floor and every case once, in shuffled order.

    Returns {"runs": {name: {"wall": [s...], "import": [...], "call": [...], "ratio": [...]}},
    "imports": {name: {package: ms}}, "failed": {name: why}} with FLOOR among the names.
    Round 0 (not reported) warms the bytecode cache and the emulator. A case that fails is
    reported as such and left out of the later rounds; a failing floor stops the bench.
    """
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    failed: dict[str, str] = {}
    with emulator(rounds + IMPORT_RUNS) as endpoint:
        env = child_env(endpoint)
        for round in range(rounds + 1):
            order = [None, *(case for case in cases if case.name not in failed)]
            rng.shuffle(order)
            walls = {}
            for case in order:
                name = case.name if case else FLOOR
                try:
                    wall, report = run_child(case, round, env)
                except Failed as error:
                    if case is None:
                        raise
                    failed[name] = str(error)
                    progress(f"  {name} failed: {error}")
                    continue
                walls[name] = wall
                if round:
                    row = results[name]
                    row["wall"].append(wall)
                    row["import"].append(report["import"])
                    row["call"].append(report["call"])
            if round:
                for name, wall in walls.items():
                    results[name]["ratio"].append(wall / walls[FLOOR])
                progress(f"cold round {round}/{rounds}: floor {walls[FLOOR] * 1000:.0f} ms")
        working = [case for case in cases if case.name not in failed]
        profiles = import_profiles(working, env, rounds + 1)  # rounds + 1.. are unused
    return {"runs": results, "imports": profiles, "failed": failed}


def stdlib_or_package(module: str) -> str:
    top = module.split(".")[0]
    if top in ("api", "database", "handlers", "rules"):
        return "ours"  # api, database, handlers, rules
    if top in sys.stdlib_module_names or top.startswith("_"):
        return "stdlib"
    return top


def import_profile(stderr: str) -> dict[str, float]:
    """Self time (ms) per top-level package from `python -X importtime` output."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        totals[stdlib_or_package(name.strip())] += int(self_us) / 1000
    return dict(totals)


def import_profiles(cases, env: dict, first_round: int) -> dict[str, dict]:
    """Median self time per package over IMPORT_RUNS `-X importtime` runs, per case and floor,
    serving the (seeded, never used) rounds from `first_round` on."""
    profiles = {}
    for case in [None, *cases]:
        runs = [
            import_profile(importtime_child(case, first_round + n, env)) for n in range(IMPORT_RUNS)
        ]
        packages = {name for run in runs for name in run}
        profiles[case.name if case else FLOOR] = {
            name: statistics.median(run.get(name, 0.0) for run in runs) for name in packages
        }
    return profiles
