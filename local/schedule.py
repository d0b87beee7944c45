"""`POST /_local/schedule/{functionName}`: runs a scheduled function now, for `make run`.

EventBridge invokes a function of serverless.yml's `schedule` events with a Scheduled Event;
the functions take "now" from its `time`, so a developer or a test runs a job at any instant
instead of waiting for the clock: an optional body `{"time": "<ISO instant>"}` becomes the
event's `time` (default: now). The answer is what the function returned.
"""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.events import HttpRequest, HttpResponse, json_response
from local.lambdas import FunctionError
from local.serverless import ACCOUNT_ID, REGION, Function, Service

PATH = "/_local/schedule"


def scheduled_event(rule: str, time: datetime) -> dict[str, Any]:
    """EventBridge's Scheduled Event for `rule` at `time`."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


class Scheduler:
    def __init__(self, service: Service, invoke: Callable[[Function, dict[str, Any]], Any]):
        self.service = service
        self.invoke = invoke

    def handle(self, request: HttpRequest) -> HttpResponse:
        name = request.raw_path.removeprefix(PATH).strip("/")
        if request.method == "GET" and not name:
            jobs = [
                {"function": s.function, "schedule": s.expression} for s in self.service.schedules
            ]
            return json_response(200, {"schedules": jobs})
        scheduled = {schedule.function for schedule in self.service.schedules}
        if request.method != "POST" or name not in scheduled:
            return json_response(404, {"message": f"No scheduled function {name!r} on this stage"})
        try:
            body = json.loads(request.body or b"{}")
            time = datetime.fromisoformat(body["time"]) if "time" in body else datetime.now(UTC)
            if time.tzinfo is None:
                raise ValueError("time needs an offset")
        except (ValueError, TypeError, KeyError) as error:
            return json_response(
                400, {"message": f'Body must be {{"time": "<ISO instant>"}}: {error}'}
            )
        event = scheduled_event(f"{self.service.name}-{name}", time)
        try:
            result = self.invoke(self.service.functions[name], event)
        except FunctionError as error:  # its traceback is in the function's log
            return json_response(
                500, {"function": name, "errorType": error.error_type, "error": str(error)}
            )
        return json_response(200, {"function": name, "time": event["time"], "result": result})
