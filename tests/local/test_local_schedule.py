"""`POST /_local/schedule/{functionName}`: a scheduled function run now, at any given time."""

import json
from datetime import UTC, datetime

from local.events import HttpRequest
from local.lambdas import FunctionError
from local.schedule import PATH, Scheduler, scheduled_event
from local.serverless import Function, Schedule, Service


def _service() -> Service:
    job = Function("tick", "handlers.tick", "handler", 1024, 20)
    other = Function("getUser", "handlers.user.get", "handler", 1024, 20)
    return Service(
        name="svc",
        stage="local",
        document={},
        functions={"tick": job, "getUser": other},
        schedules=[Schedule("tick", "rate(5 minutes)")],
    )


def _post(path: str, body: bytes = b"") -> HttpRequest:
    return HttpRequest("POST", path, [], body, "127.0.0.1", "HTTP/1.1")


def test_runs_the_function_with_a_scheduled_event_at_the_given_time():
    calls = []
    scheduler = Scheduler(_service(), lambda function, event: calls.append((function, event)) or 7)

    response = scheduler.handle(_post(f"{PATH}/tick", b'{"time": "2027-01-01T00:00:00+01:00"}'))

    assert response.status == 200
    assert json.loads(response.body) == {
        "function": "tick",
        "time": "2026-12-31T23:00:00Z",
        "result": 7,
    }
    function, event = calls[0]
    assert function.name == "tick"
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-12-31T23:00:00Z"


def test_only_scheduled_functions_and_valid_times():
    scheduler = Scheduler(_service(), lambda function, event: None)

    assert scheduler.handle(_post(f"{PATH}/getUser")).status == 404
    assert scheduler.handle(_post(f"{PATH}/nope")).status == 404
    assert scheduler.handle(_post(f"{PATH}/tick", b'{"time": "yesterday"}')).status == 400
    assert scheduler.handle(_post(f"{PATH}/tick", b'{"time": "2027-01-01T00:00:00"}')).status == 400
    listed = scheduler.handle(HttpRequest("GET", PATH, [], b"", "127.0.0.1", "HTTP/1.1"))
    assert json.loads(listed.body) == {
        "schedules": [{"function": "tick", "schedule": "rate(5 minutes)"}]
    }


def test_a_failing_function_is_reported_not_raised():
    def fail(function, event):
        raise FunctionError("RuntimeError", "boom")

    response = Scheduler(_service(), fail).handle(_post(f"{PATH}/tick"))
    assert response.status == 500
    assert json.loads(response.body)["errorType"] == "RuntimeError"


def test_scheduled_event_shape():
    event = scheduled_event("svc-tick", datetime(2027, 3, 1, tzinfo=UTC))
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/svc-tick"]
    assert event["detail"] == {} and event["version"] == "0"
