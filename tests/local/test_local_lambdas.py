"""The local stack's Lambda: each invocation in an execution environment (a process) that serves
one request at a time, a new one only when all are busy, up to the limit; timeouts stop the
function; a broken import fails at start. The handlers below run in those processes."""

import ast
import os
import random
import threading
import time

import pytest

from local.lambdas import (
    NOT_PRODUCT,
    ROOT,
    WATCHED,
    FunctionError,
    FunctionStats,
    Lambdas,
    TimedOut,
)
from local.serverless import Function, Service

_remembered = None  # per environment, like a handler's cached client or logger keys


def remember(event, context):
    """Keeps the request's value across a pause: two requests at once would mix it."""
    global _remembered
    _remembered = event["value"]
    time.sleep(0.2)
    return {"value": _remembered, "environment": os.getpid(), "stream": context.log_stream_name}


def slow(event, context):
    time.sleep(5)


def _service(*functions: Function) -> Service:
    service = Service(name="svc", stage="t", document={})
    for function in functions:
        service.functions[function.name] = function
    return service


def test_each_environment_serves_one_request_at_a_time():
    function = Function("remember", __name__, "remember", 128, 5)
    lambdas = Lambdas(_service(function), concurrency=3)
    results: dict[int, dict] = {}
    try:

        def call(value: int) -> None:
            results[value] = lambdas.invoke(function, {"value": value})

        threads = [threading.Thread(target=call, args=(value,)) for value in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        lambdas.close()

    assert {value: result["value"] for value, result in results.items()} == {
        value: value for value in range(8)
    }
    environments = {result["environment"] for result in results.values()}
    assert 1 <= len(environments) <= 3  # beyond the limit, requests waited for one
    assert os.getpid() not in environments
    # One log stream per environment, as on Lambda.
    assert len({result["stream"] for result in results.values()}) == len(environments)
    stats = lambdas.stats()["functions"]["remember"]
    assert (stats["requests"], stats["errors"], stats["coldStarts"]) == (8, 0, len(environments))
    assert stats["latencyMs"]["p50"] >= 200


def test_a_function_past_its_timeout_is_stopped_and_its_environment_replaced():
    slow_function = Function("slow", __name__, "slow", 128, 1)
    quick = Function("remember", __name__, "remember", 128, 5)
    lambdas = Lambdas(_service(slow_function, quick))
    try:
        with pytest.raises(TimedOut, match="Task timed out after 1.00 seconds"):
            lambdas.invoke(slow_function, {})
        with pytest.raises(TimedOut):
            lambdas.invoke(slow_function, {})
        assert lambdas.invoke(quick, {"value": 1})["value"] == 1
    finally:
        lambdas.close()
    stats = lambdas.stats()["functions"]["slow"]
    assert (stats["requests"], stats["errors"], stats["coldStarts"]) == (2, 2, 2)


def test_a_handler_that_cannot_be_imported_fails_at_start():
    broken = Function("broken", "handlers.no_such_module", "handler", 128, 3)
    with pytest.raises(FunctionError, match="No module named 'handlers.no_such_module'"):
        Lambdas(_service(broken))


def test_the_latency_stats_are_a_bounded_uniform_sample(monkeypatch):
    monkeypatch.setattr("local.lambdas.LATENCY_SAMPLE", 100)
    monkeypatch.setattr("local.lambdas.random", random.Random(25))  # the same sample each run
    stats = FunctionStats()
    for latency in range(10_000):
        stats.requests += 1
        stats.record(float(latency))
    assert len(stats.latencies_ms) == 100
    # a sample of the whole run, not of its start: its median near the run's (4999.5)
    assert 3000 < stats.as_json()["latencyMs"]["p50"] < 7000


def test_a_changed_module_is_run_by_the_next_invocation(tmp_path, monkeypatch):
    # GIVEN a function whose handler imports a module of the project (a copy in tmp_path)
    package = tmp_path / "reloaded"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "answer.py").write_text("VALUE = 'old'\n")
    (package / "handler.py").write_text(
        "import os\n"
        "from reloaded import answer\n\n"
        "def handler(event, context):\n"
        "    return {'value': answer.VALUE, 'environment': os.getpid()}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # the environments' import path is the stack's
    function = Function("reloaded", "reloaded.handler", "handler", 128, 5)
    lambdas = Lambdas(_service(function), watch=(package,))
    try:
        first = lambdas.invoke(function, {})
        assert lambdas.invoke(function, {}) == first  # warm: the same environment
        # WHEN the module the handler imports changes
        source = package / "answer.py"
        source.write_text("VALUE = 'new'\n")
        modified = source.stat().st_mtime_ns + 1_000_000_000  # a tick later than the import
        os.utime(source, ns=(modified, modified))
        # THEN the next invocation runs the new code, in a new environment
        second = lambdas.invoke(function, {})
        assert second["value"] == "new"
        assert second["environment"] != first["environment"]
        assert lambdas.invoke(function, {}) == second  # and stays warm
    finally:
        lambdas.close()
    assert first["value"] == "old"
    stats = lambdas.stats()["functions"]["reloaded"]
    assert (stats["requests"], stats["coldStarts"]) == (4, 2)


def _packages_imported_from(package: str) -> set[str]:
    """The project's top-level packages that `package`'s code imports, directly or through one
    another: every import statement, those inside functions included (createUser imports
    membership/ only where there is a shop), read from the sources rather than run."""
    reached, pending = set(), [package]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        for source in (ROOT / name).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(), str(source))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.partition(".")[0]
                    if (ROOT / top / "__init__.py").is_file():
                        pending.append(top)
    return reached


def test_hot_reload_watches_every_package_a_function_can_import():
    # Every package a handler reaches is product code: an edit to any of them must replace the
    # environments that imported it (the watched list once left out membership/, tournaments/
    # and counters/, so their edits ran the old code until a restart).
    reached = _packages_imported_from("handlers")
    assert {"membership", "tournaments", "counters", "payments"} <= reached  # the walk works
    assert not reached & NOT_PRODUCT  # a handler never imports the stack or the bench
    assert {ROOT / name for name in reached} <= set(WATCHED)
    assert not {ROOT / name for name in NOT_PRODUCT} & set(WATCHED)  # local/ needs a restart


def read_item(event, context):
    """One GetItem on event["table"]: what the environment's IAM enforcement lets through."""
    import botocore.session
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1)
    client = botocore.session.get_session().create_client("dynamodb", config=config)
    try:
        client.get_item(TableName=event["table"], Key={"username": {"S": "alice"}})
    except Exception as error:  # what the function would see
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        return code or type(error).__name__
    return "read"


def test_an_environment_runs_with_its_function_s_role(monkeypatch):
    """A grant missing from serverless.yml fails in `make run` (and the e2e tier) as on AWS:
    each environment enforces the role the framework built for its function (local/iam.py),
    before the call leaves the process. getMeeting's role reads users and meetings only."""
    from support import SERVICE

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    service = Service(name=SERVICE.name, stage=SERVICE.stage, document=SERVICE.document)
    function = Function("getMeeting", __name__, "read_item", 128, 10)
    service.functions["getMeeting"] = function
    lambdas = Lambdas(service, concurrency=1)
    try:
        assert lambdas.invoke(function, {"table": "test-availabilities"}) == "AccessDeniedException"
        assert lambdas.invoke(function, {"table": "test-users"}) == "EndpointConnectionError"
    finally:
        lambdas.close()
