"""What schemathesis is told beyond the published OpenAPI (tests/e2e/test_schemathesis.py loads this
through SCHEMATHESIS_HOOKS).

- Rules between fields, which JSON Schema cannot state (each is in its operation's
  description): an availability starts before it ends, at most 7 days before (a positive
  case's endTime is brought within that); a series' rule fits its first start (and a positive
  case's occurrence is at most 24 hours, its zone stated, and no recurrence goes with an id);
  a search by time needs startTime, and its endTime is not before it. Generated requests that
  break them are not sent: the handler tests check those 400s.
- `startKey` is an opaque token only a previous page gives out: never invented.
- The availabilities the positive cases create are the signed-in player's (`owner` is the
  caller, or the API answers 403) and admit every cohort (whether the booker's cohort is
  admitted is state, not schema), so the stateful phase can book them and reach the meeting.
  (The run's stack is a stage without payments, LOCAL_PAYMENTS=off: it publishes neither the
  payment routes nor `price`, so the run never sends them.)
- A method no route has is answered as API Gateway answers it, 404 {"message": "Not Found"}:
  that check replaces schemathesis' `unsupported_method`, which wants RFC 9110's 405. (A
  method and path another route matches, `DELETE /availability/book`, is that route's.)
"""

import os
import re

import schemathesis
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario
from schemathesis.generation.modes import GenerationMode

from database.times import format_time, parse_time
from rules.booking import MAX_WINDOW
from rules.cohorts import ALL_COHORTS as ALL
from rules.recurrence import MAX_LENGTH, parse_rule
from rules.zones import zone

OWNER = os.environ.get("SCHEMATHESIS_OWNER", "")


def _times(values: object, start: str, end: str) -> tuple:
    """Both instants, or None for one that is absent or malformed (a negative case)."""

    def instant(name: str):
        try:
            return parse_time(values.get(name)) if isinstance(values, dict) else None
        except ValueError:
            return None

    return instant(start), instant(end)


def _availability_is_coherent(case) -> bool:
    start, end = _times(case.body, "startTime", "endTime")
    if start is not None and end is not None and start >= end:
        return False
    # A series (contract v4): its rule read against its first start in its zone (BYDAY's days,
    # UNTIL within 2 years, a start the zone can show).
    recurrence = case.body.get("recurrence") if isinstance(case.body, dict) else None
    if start is None or not isinstance(recurrence, dict):
        return True
    try:
        where = zone(recurrence.get("timezone") or "UTC")
        parse_rule(recurrence.get("rule"), start, where)
    except ValueError:
        return False
    return True


def _search_is_coherent(case) -> bool:
    query = case.query or {}
    if "byTime" in query and "startTime" not in query:
        return False
    start, end = _times(query, "startTime", "endTime")
    return start is None or end is None or start <= end


_CROSS_FIELD_RULES = {
    "PUT /availability": _availability_is_coherent,
    "GET /availability": _search_is_coherent,
}


def _route(case) -> str:
    return f"{case.method.upper()} {case.operation.path}"


@schemathesis.hook
def filter_case(ctx, case) -> bool:
    rule = _CROSS_FIELD_RULES.get(_route(case))
    return rule is None or rule(case)


@schemathesis.hook
def map_case(ctx, case):
    if isinstance(case.query, dict):
        case.query.pop("startKey", None)
    positive = case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE
    if _route(case) == "PUT /availability" and positive and isinstance(case.body, dict):
        case.body["owner"] = OWNER
        if isinstance(case.body.get("cohorts"), list) and ALL not in case.body["cohorts"]:
            case.body["cohorts"].append(ALL)
        # A window is at most MAX_WINDOW long (a rule across fields, like start before end).
        start, end = _times(case.body, "startTime", "endTime")
        if start is not None and end is not None and end - start > MAX_WINDOW:
            case.body["endTime"] = format_time(start + MAX_WINDOW)
        # A series (contract v4) is created, never changed (a body with an id and another
        # recurrence is a 400, state no schema holds); an occurrence lasts at most 24 hours; its
        # zone is stated (the owner's may change during the run).
        # (The id may come later, from a link of the stateful phase: before_call drops the
        # recurrence then.)
        recurrence = case.body.get("recurrence")
        if isinstance(recurrence, dict):
            if case.body.get("id"):
                del case.body["recurrence"]
            else:
                recurrence.setdefault("timezone", "UTC")
                if start is not None and end is not None and end - start > MAX_LENGTH:
                    case.body["endTime"] = format_time(start + MAX_LENGTH)
    return case


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """A positive PUT /availability that a stateful link gave an existing id (after map_case)
    changes that availability: it carries no recurrence, which only a create may (contract v4)."""
    positive = case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE
    body = case.body
    route = _route(case)
    if route == "PUT /availability" and positive and isinstance(body, dict) and body.get("id"):
        body.pop("recurrence", None)


def _routed_elsewhere(case, method: str) -> bool:
    """Whether another route takes this method and path, as API Gateway matches them:
    `DELETE /availability/book` is `DELETE /availability/{id}` with the id "book" (that
    function answers it: 404, the id is not one the API issued)."""
    path = case.operation.path
    return any(
        template != path
        and method.lower() in operations
        and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path)
        for template, operations in case.operation.schema.raw_schema["paths"].items()
    )


@schemathesis.check
def unknown_method_is_api_gateways_404(ctx, response, case):
    """An undeclared method gets API Gateway's 404 {"message": "Not Found"}."""
    phase = case.meta.phase.data if case.meta else None
    if (
        not isinstance(phase, CoveragePhaseData)
        or phase.scenario != CoverageScenario.UNSPECIFIED_HTTP_METHOD
        or response.request.method == "OPTIONS"  # a CORS preflight, answered as one
        or _routed_elsewhere(case, response.request.method)
    ):
        return None
    answer = (response.status_code, response.json())
    if answer != (404, {"message": "Not Found"}):
        raise AssertionError(f"{response.request.method} answered {answer}, not API Gateway's 404")
    return None


@schemathesis.check
class every_operation_succeeds_somewhere:
    """The run reached every operation's success at least once (links and test data work),
    instead of only its errors."""

    def __init__(self):
        self.tested: set[str] = set()
        self.succeeded: set[str] = set()

    def after_response(self, ctx, response, case):
        self.tested.add(case.operation.label)
        if 200 <= response.status_code < 300:
            self.succeeded.add(case.operation.label)

    def after_run(self, ctx):
        never = sorted(self.tested - self.succeeded)
        if never:
            raise AssertionError(f"never answered 2xx: {', '.join(never)}")
