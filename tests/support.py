"""Events, tables and table snapshots shared by the handler tests."""

import copy
import functools
import json
import pickle
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, uuid5

from botocore.exceptions import ClientError

import database.parallel
import local.aws
from database.client import to_item
from local.serverless import load

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"

# serverless.yml read as the local stack reads it, for the stage the tests name their tables by
# (conftest.py sets USERS_TABLE etc. to the same names).
SERVICE = load(ROOT / "serverless.yml", stage="test")
TABLE_NAMES = {
    logical_id: SERVICE.table_name(logical_id)
    for logical_id in SERVICE.resources("AWS::DynamoDB::Table")
}


def hypothesis_examples(full: int) -> int:
    """A property test's `max_examples`: `full` in `make test`, the same share of it as the
    loaded profile's default is of hypothesis's own (a tenth in make test-fast's `fast`
    profile, tests/conftest.py). Read when the test module is imported, after the profile.
    hypothesis is imported here, not with support: it loads zoneinfo, whose absence from a
    free booking's modules tests/infra/test_imports.py checks in a process that imports
    support."""
    from hypothesis import settings

    share = settings.default.max_examples / settings.get_profile("default").max_examples
    return max(1, round(full * share))


def create_tables(client) -> None:
    """serverless.yml's tables (keys, indexes, TTL), so tests and infrastructure cannot drift."""
    local.aws.create_tables(SERVICE, client)


class FreshTables:
    """create_tables at a fraction of its cost, for a test's new moto (conftest.py's `tables`).

    create_tables is 14 requests (a table and its TTL, seven times), about 50 ms of moto
    parsing, validating and serialising: the largest part of a handler test's own time. The
    first make() of a process runs it and keeps the tables moto then holds (its Table objects,
    pickled while they are still empty); every later make() puts a copy of those into the new
    moto. A copy of the objects create_tables made is the same tables (keys, indexes, streams,
    TTL), none of another test's items, stream records or changes: each copy is new objects."""

    def __init__(self) -> None:
        self._made: bytes | None = None
        self._built: dict[str, bytes] = {}

    @staticmethod
    def _backend(client) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[DEFAULT_ACCOUNT_ID][client.meta.region_name]

    def built_once(self, client, name: str, build: Callable[[Any], T]) -> T:
        """A fixture's starting state, `build(client)` run on the fresh tables of its moto, at
        the cost of a copy: the process's first test that asks for `name` runs it and keeps the
        tables it left (items, indexes, stream records) with what it returned; every later one
        gets a copy of both, new objects each time, as `make` copies the empty tables. Only for
        a state that lives in DynamoDB alone, built by the same calls whatever the test (no
        setting, clock or other service it depends on differs between tests)."""
        backend = self._backend(client)
        if name not in self._built:
            result = build(client)
            self._built[name] = pickle.dumps((backend.tables, result))
        backend.tables, result = pickle.loads(self._built[name])
        return result

    def make(self, client) -> None:
        """serverless.yml's tables, empty, in the moto `client` talks to, which has none yet."""
        backend = self._backend(client)
        if backend.tables:
            raise RuntimeError(f"a new moto has no tables, this one has {list(backend.tables)}")
        if self._made is None:
            create_tables(client)
            self._made = pickle.dumps(backend.tables)
        else:
            backend.tables = pickle.loads(self._made)


def availability(**overrides: Any) -> dict:
    """A valid `PUT /availability` body: alice, 2030-01-01 09:00 to 12:00 UTC, classical games
    for 1500-1600, with `overrides`."""
    return {
        "owner": "alice",
        "ownerDiscord": "alice#1",
        "ownerCohort": "1500-1600",
        "startTime": "2030-01-01T09:00:00Z",
        "endTime": "2030-01-01T12:00:00Z",
        "types": ["CLASSICAL_GAME"],
        "cohorts": ["1500-1600"],
        **overrides,
    }


def uuid(name: str) -> str:
    """The fixture id `name` as the API issues ids (a canonical UUID), the same on every run."""
    return str(uuid5(NAMESPACE_URL, f"https://dojo-scheduler.test/{name}"))


def publish(client, body: dict) -> dict:
    """`body` (a `PUT /availability` body with an `id`) stored as the API stores it: an existing
    availability with a known id, to book, replace or cancel (the API issues only new ids)."""
    from database.availabilities import stored
    from database.models import Availability

    record = Availability.from_json(body)
    put(client, "test-availabilities", stored(record))
    return record.to_json()


@functools.cache
def streams_client() -> Any:
    """The tests' own DynamoDB Streams client, one for the process: it reads whichever moto is
    current (a test's handlers get new clients, as a new container does; the test's reader
    need not, and a new session and client cost more than its reads)."""
    import botocore.session

    return botocore.session.get_session().create_client("dynamodbstreams", region_name="us-east-1")


def put_secret(name: str, value: dict) -> None:
    """The stage secret `name` (a JSON object) in the current moto's Secrets Manager, as
    CreateSecret makes it, without a client (a new boto3 session and client a test, as
    `boto3.client` made them, cost more than the call): the tests' own setup."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.secretsmanager.models import secretsmanager_backends

    secretsmanager_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].create_secret(
        name=name,
        secret_string=json.dumps(value),
        secret_binary=None,
        description=None,
        tags=None,
        kms_key_id=None,
        client_request_token=None,
        replica_regions=[],
        force_overwrite=False,
    )


def snapshot(client) -> dict[str, list]:
    """Every item of every table, to prove a rejected request changed nothing: read from the
    memory of the moto `client` talks to, each item as a Scan returns it (binary values, which
    no table holds, as base64), without seven Scans' requests (they were a twelfth of the
    handler tests' CPU). test_fresh_tables.py checks it against the Scans."""
    tables = FreshTables._backend(client).tables
    state = {}
    for name in TABLE_NAMES.values():
        items = [item.to_json()["Attributes"] for item in tables[name].all_items()]
        state[name] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return state


def scanned(client) -> dict[str, list]:
    """snapshot() through the API: every table's Scan (one page each: a test's tables are small)."""
    state = {}
    for name in TABLE_NAMES.values():
        answer = client.scan(TableName=name)
        assert "LastEvaluatedKey" not in answer, name
        state[name] = sorted(answer["Items"], key=lambda item: json.dumps(item, sort_keys=True))
    return state


def http_event(
    route_key: str,
    *,
    caller: str | None = "alice",
    body: Any = None,
    query: dict[str, str] | None = None,
    path: dict[str, str] | None = None,
) -> dict:
    """A real API Gateway HTTP API (payload 2.0) event for `route_key`, signed in as `caller`
    (None: no claims at all, as on the public route)."""
    event = copy.deepcopy(json.loads((EVENTS / "httpApiV2Event.json").read_text()))
    method, raw_path = route_key.split(" ", 1)
    for name, value in (path or {}).items():
        raw_path = raw_path.replace("{" + name + "}", value)
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    event["requestContext"]["http"]["method"] = method
    if caller is None:
        del event["requestContext"]["authorizer"]
        del event["headers"]["authorization"]
    else:
        event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:username"] = caller
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if path:
        event["pathParameters"] = path
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def post_confirmation_event(username: str, **attributes: str) -> dict:
    event = json.loads((EVENTS / "cognitoPostConfirmationEvent.json").read_text())
    event["userName"] = username
    event["request"]["userAttributes"].update(attributes)
    return event


def body(response: dict) -> Any:
    assert response["headers"]["Content-Type"] == "application/json"
    return json.loads(response["body"])


def add_user(client, username: str, cohort: str = "1500-1600", **fields: str) -> None:
    item = {"username": username, "dojoCohort": cohort, "email": f"{username}@example.com"}
    put(client, "test-users", {**item, **fields})


def put(client, table: str, item: dict) -> None:
    """`item` (plain values) stored in `table` of the moto `client` talks to, as a PutItem stores
    it (its limits checked, its stream record written), without the request's cost: the tests'
    own setup, a twentieth of the handler tests' CPU when it went through the API."""
    FreshTables._backend(client).put_item(table, to_item(item))


def fail(client, operation, error):
    """Makes every `operation` call of `client` raise `error` (unregister the returned hook)."""

    def raise_error(**_):
        raise error

    client.meta.events.register(f"before-call.dynamodb.{operation}", raise_error)
    return raise_error


def client_error(code, message, operation):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class RoundTrips:
    """The DynamoDB calls of a request and its critical path: how many of them wait for one
    another. Counted by structure, not by timing: `install` replaces database.parallel's
    `together` by one that runs the calls one by one but counts them as side by side."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.critical_path = 0
        self._depth = 0

    def install(self, client, monkeypatch) -> "RoundTrips":
        client.meta.events.register("before-call.dynamodb", self.called)
        monkeypatch.setattr(database.parallel, "together", self.together)
        return self

    def reset(self) -> None:
        self.calls.clear()
        self.critical_path = self._depth = 0

    def called(self, model, **_) -> None:
        self.calls.append(model.name)
        self._depth += 1
        self.critical_path = max(self.critical_path, self._depth)

    def together(self, *calls):
        start, ends, results = self._depth, [], []
        for call in calls:
            self._depth = start
            results.append(call())
            ends.append(self._depth)
        self._depth = max(ends, default=start)
        return results


class SilentServer:
    """A server on 127.0.0.1 that accepts connections and never answers: a service that hangs,
    so only its clients' own timeouts end their calls. A context manager."""

    def __init__(self) -> None:
        self._listening = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._listening.getsockname()[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listening.accept()
            except OSError:  # closed
                return
            self.connections.append(connection)

    def __enter__(self) -> "SilentServer":
        return self

    def __exit__(self, *_: object) -> None:
        self._listening.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listening.close()
        for connection in self.connections:
            connection.close()
