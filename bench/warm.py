"""Warm requests with DynamoDB answering instantly, and the DynamoDB calls each one makes.

Run as `python -m bench.warm ITERATIONS OUT.json [GROUP]` (bench/__main__ does, in a fresh
process whose stdout takes the handlers' logs, once per group of cases.env_groups(): the cases
with that group's feature settings, which a function reads once). A `before-send` hook on the
handlers' own client (`database.client.dynamodb()`) answers every call with a canned HTTP 200
JSON body, so botocore still serialises, signs and parses everything; only the network is gone.
The unit is one such stubbed GetItem, timed the same way in the same rounds.

Then the same requests again with every call made to wait NETWORK_RTT first, as a deployed
function waits for DynamoDB: what a player waits for is then mostly the round trips that
wait for one another (the critical path, counted by tests/support.RoundTrips).
"""

import importlib
import json
import os
import random
import statistics
import sys
import time
from unittest import mock

from bench.cases import (
    ALICE,
    ALICE_AVAILABILITIES,
    AVAILABILITIES,
    CASES,
    ERIN,
    FEED_ITEM,
    MEETING_ITEMS,
    MEETINGS,
    MIA,
    TABLE_ENV,
    USER_ITEMS,
    USERS,
    env_groups,
    round_availabilities,
    round_meetings,
    status,
)
from support import RoundTrips

WARMUP = 20
# A DynamoDB round trip from a Lambda function in the same region: a few ms; 8 is typical.
NETWORK_RTT = 0.008
LATENCY_ITERATIONS = 60


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_):
        yield self.data


def canned_responses() -> dict[tuple[str, str], bytes]:
    """(operation, table or index) -> the JSON body DynamoDB would send back."""
    from database.client import to_item as item

    def page(items: list[dict]) -> dict:
        return {"Items": [item(i) for i in items], "Count": len(items), "ScannedCount": len(items)}

    booked = round_availabilities(0)[0]
    answers = {
        ("GetItem", USERS): {"Item": item(ALICE)},
        ("GetItem", AVAILABILITIES): {"Item": item(booked)},
        ("GetItem", MEETINGS): {"Item": item(MEETING_ITEMS[0])},
        ("Query", AVAILABILITIES): page(ALICE_AVAILABILITIES),
        ("Query", "SearchIndex"): page(ALICE_AVAILABILITIES),
        ("Query", "OwnerIndex"): page(MEETING_ITEMS[1:]),
        ("Query", "ParticipantIndex"): page(MEETING_ITEMS[:1]),
        ("UpdateItem", USERS): {"Attributes": item(ALICE)},
        ("Query", "JoinedIndex"): page([]),
        # The admin's pages: a page of each table.
        ("Scan", USERS): page(USER_ITEMS),
        ("Scan", AVAILABILITIES): page(ALICE_AVAILABILITIES),
        ("Scan", MEETINGS): page(MEETING_ITEMS),
        ("Query", "StartTimeIndex"): page([]),  # no tournament yet
        ("Query", "DueIndex"): page([]),  # no reminder due
        # One answer for every BatchGetItem: each request picks the keys it asked for
        # (booking: the availability and erin, the player; cancelling: the meeting).
        ("BatchGetItem", None): {
            "Responses": {
                AVAILABILITIES: [item(booked)],
                USERS: [item(ERIN)],
                MEETINGS: [item(round_meetings(0)[0])],
            }
        },
    }
    return {key: json.dumps(value).encode() for key, value in answers.items()}


def install(client, trips: RoundTrips, network: list[float]) -> None:
    """Answers every call of `client` from canned_responses(), after `network[0]` seconds, and
    counts calls and critical path in `trips`."""
    from botocore.awsrequest import AWSResponse

    from database.client import to_item

    answers = canned_responses()
    # The claim to ask the shop again, refused: mia's membership was checked within the minute.
    checked_recently = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "message": "The conditional request failed",
            "Item": to_item(MIA),
        }
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "bench"}
    feed = json.dumps({"Item": to_item(FEED_ITEM)}).encode()

    def reply(request, **_):
        if network[0]:
            time.sleep(network[0])
        target = request.headers["X-Amz-Target"]
        operation = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        params = json.loads(request.body)
        where = params.get("IndexName") or params.get("TableName")
        if "membershipCheckedAt <=" in params.get("ConditionExpression", ""):
            return AWSResponse(request.url, 400, headers, _Body(checked_recently))
        body = answers.get((operation, where), b"{}")  # writes: PutItem, DeleteItem, Transact
        if params.get("Key", {}).get("username") == to_item(FEED_ITEM)["username"]:
            body = feed  # a calendar feed's item, not a player's
        return AWSResponse(request.url, 200, headers, _Body(body))

    client.meta.events.register("before-send.dynamodb", reply)
    client.meta.events.register("before-call.dynamodb", trips.called)


def main(iterations: int, out: str, group: int = 0) -> None:
    settings = env_groups()[group]
    os.environ.update(TABLE_ENV | dict(settings))
    import database.parallel
    from database.client import dynamodb

    trips, network = RoundTrips(), [0.0]
    client = dynamodb()
    install(client, trips, network)

    def get_item():
        client.get_item(TableName=USERS, Key={"username": {"S": "alice"}})

    runs = {"GetItem": get_item}
    counts, critical_paths, failed = {}, {}, {}
    for case in [case for case in CASES if case.env == settings]:
        handler = importlib.import_module(case.module).handler
        event = case.event(0)
        trips.reset()
        try:
            # Counted by structure: parallel calls made one by one, counted as side by side.
            with mock.patch.object(database.parallel, "together", trips.together):
                result = handler(event, None)
        except Exception as error:
            failed[case.name] = f"{type(error).__name__}: {error}"
            continue
        if status(result) != case.succeeds_with:
            failed[case.name] = f"status {status(result)}: {result.get('body')}"
            continue
        counts[case.name] = list(trips.calls)
        critical_paths[case.name] = trips.critical_path
        runs[case.name] = lambda handler=handler, event=event: handler(event, None)

    # Also the time actually spent in the client's calls (validation, serialisation, signing,
    # parsing): a TransactWriteItems costs botocore more than the GetItem unit does.
    in_client = [0.0]
    make_api_call = client._make_api_call

    def timed_api_call(*args, **kwargs):
        started = time.perf_counter()
        try:
            return make_api_call(*args, **kwargs)
        finally:
            in_client[0] += time.perf_counter() - started

    client._make_api_call = timed_api_call

    times: dict[str, list[float]] = {name: [] for name in runs}
    client_times: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    for iteration in range(WARMUP + iterations):
        random.shuffle(order)
        for name in order:
            in_client[0] = 0.0
            started = time.perf_counter()
            runs[name]()
            elapsed = time.perf_counter() - started
            if iteration >= WARMUP:
                times[name].append(elapsed)
                client_times[name].append(elapsed - in_client[0])

    # With the network back (simulated), the parallel calls really in parallel.
    client._make_api_call = make_api_call
    network[0] = NETWORK_RTT
    latencies: dict[str, list[float]] = {name: [] for name in runs if name != "GetItem"}
    order = list(latencies)
    for _ in range(LATENCY_ITERATIONS):
        random.shuffle(order)
        for name in order:
            started = time.perf_counter()
            runs[name]()
            latencies[name].append(time.perf_counter() - started)

    results = {
        "median": {name: statistics.median(values) for name, values in times.items()},
        "outside_client": {name: statistics.median(v) for name, v in client_times.items()},
        "calls": counts,
        "critical_path": critical_paths,
        "network_rtt": NETWORK_RTT,
        "latency_median": {name: statistics.median(v) for name, v in latencies.items()},
        "latency_p99": {
            name: statistics.quantiles(v, n=100, method="inclusive")[98]
            for name, v in latencies.items()
        },
        "failed": failed,
    }
    with open(out, "w") as file:
        json.dump(results, file)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], *(int(group) for group in sys.argv[3:4]))
