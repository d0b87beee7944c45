"""Every handler test runs against moto tables built from serverless.yml's own definitions."""

import os

# Before any handler module is imported: table names are read at import, and no test may
# reach a real AWS account or a local emulator left running.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    USERS_TABLE="test-users",
    AVAILABILITIES_TABLE="test-availabilities",
    MEETINGS_TABLE="test-meetings",
    NOTIFICATIONS_TABLE="test-notifications",
    PAYMENTS_TABLE="test-payments",
    STATISTICS_TABLE="test-statistics",
    REMINDERS_TABLE="test-reminders",
    POWERTOOLS_LOG_LEVEL="INFO",  # every log call runs: a bad log field fails a test
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(variable, None)

import threading  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import botocore.hooks  # noqa: E402
import botocore.loaders  # noqa: E402
import botocore.session  # noqa: E402
import pytest  # noqa: E402
import roles  # noqa: E402
import stripe._http_client  # noqa: E402
from botocore.utils import EVENT_ALIASES  # noqa: E402
from hypothesis import settings  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core.botocore_stubber import BotocoreStubber  # noqa: E402

import local.stripe_contract  # noqa: E402
from database import settings as database_settings  # noqa: E402
from database.client import dynamodb  # noqa: E402
from local import moto_patches  # noqa: E402
from support import SERVICE, FreshTables  # noqa: E402

# Every test gets a fresh DynamoDB client (a new botocore session: database/client.py), as a
# new Lambda container does; but each new session would parse botocore's JSON models again
# (endpoints, the service's API), the bulk of the handler tests' time. One data loader for
# all sessions of the run: botocore's loader caches what it parsed, and the models never change.
_LOADER = botocore.loaders.create_loader()


class _SearchPaths(list):
    """The shared loader's search paths, each once: every boto3 session appends its data folder
    to its loader's, which for the shared loader would grow by one path per session."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


_LOADER._search_paths = _SearchPaths(_LOADER.search_paths)
_new_session = botocore.session.Session.__init__


def _session_sharing_the_loader(self, *args, **kwargs):
    _new_session(self, *args, **kwargs)
    self.register_component("data_loader", _LOADER)


botocore.session.Session.__init__ = _session_sharing_the_loader

# A new session also registers botocore's ~120 built-in event handlers, and each registration
# aliases the event's name (EventAliaser, a cache per session) and checks by `inspect` that the
# handler takes **kwargs: two pure functions of their argument, computed again for every
# session, two thirds of a new client's cost. One answer for the run: the names' aliases are
# botocore's fixed EVENT_ALIASES, and a function's parameters do not change.
_ALIASED_NAMES: dict[str, str] = {}
_new_aliaser = botocore.hooks.EventAliaser.__init__


def _aliaser_sharing_its_cache(self, *args, **kwargs):
    _new_aliaser(self, *args, **kwargs)
    if self._event_aliases == EVENT_ALIASES:
        self._alias_name_cache = _ALIASED_NAMES


botocore.hooks.EventAliaser.__init__ = _aliaser_sharing_its_cache
_TAKES_KWARGS: dict[Callable, bool] = {}
_accepts_kwargs = botocore.hooks.accepts_kwargs


def _accepts_kwargs_once(handler):
    # A method's answer is its function's (**kwargs is not bound): keyed by the function, so no
    # session's objects are kept alive by the cache. Other callables are asked every time.
    function = getattr(handler, "__func__", handler)
    if not isinstance(function, types.FunctionType):
        return _accepts_kwargs(handler)
    if function not in _TAKES_KWARGS:
        _TAKES_KWARGS[function] = _accepts_kwargs(function)
    return _TAKES_KWARGS[function]


botocore.hooks.accepts_kwargs = _accepts_kwargs_once

# Each handler runs with its own function's IAM role (tests/roles.py, local/iam.py): before
# any test module imports a handler.
roles.install(SERVICE)

# The same patched moto the local stack runs (local/moto_patches.py): DynamoDB's size limits,
# TransactWriteItems as DynamoDB answers it, streams' retention, no instance tracking; a moto
# other than the one the patches were written for fails here, naming them.
moto_patches.install()
# Every request to api.stripe.com a `responses` mock answers meets Stripe's contract first.
local.stripe_contract.install()

# CI explores the same examples on every run, so a red build is reproducible; a developer's
# runs keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
# `make test-fast` (--hypothesis-profile=fast): a tenth of every property test's examples
# (support.hypothesis_examples), for a one-minute loop; `make test` runs them all. (A quarter
# was a ninth of the loop's CPU, the paging properties most: each example reads every page.)
settings.register_profile("fast", max_examples=10, derandomize=bool(os.environ.get("CI")))


TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "handlers", "local", "e2e", "infra")  # pyproject.toml registers each marker
# Tiers whose tests share an expensive module-scoped fixture (a `make run` stack, an `sls
# package`): under pytest-xdist (--dist loadgroup) each module stays on one worker, so the
# fixture is built once, as in a serial run.
WHOLE_MODULES = ("local", "e2e", "infra")
# Packaging runs serverless-python-requirements, whose static cache (~/.cache/
# serverless-python-requirements) is not safe to fill from two processes at once (one removes
# the folder the other is still installing into): every `sls package` on one worker.
SLS_PACKAGE = {"test_packaging.py", "test_tournament_packaging.py"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items):
    """Each test is marked with its tier, the folder it is in (tests/<tier>/test_*.py)."""
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test belongs in one of tests/{TIERS}")
        item.add_marker(tier)
        if item.path.name in SLS_PACKAGE:
            item.add_marker(pytest.mark.xdist_group("sls-package"))
        elif tier in WHOLE_MODULES:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


@pytest.fixture(autouse=True)
def settings_follow_the_environment(monkeypatch):
    """A container reads its settings once, at cold start (database/settings.py); one test
    process plays many containers. Each test starts from the environment as it is, and a
    variable it sets or removes with monkeypatch is read again at the next use, as a new
    container would read it."""
    database_settings.read_again()
    for name in ("setenv", "delenv"):
        change = getattr(monkeypatch, name)

        def and_read_again(*args, change=change, **kwargs):
            change(*args, **kwargs)
            database_settings.read_again()

        setattr(monkeypatch, name, and_read_again)
    yield
    monkeypatch.undo()  # the test's variables gone before they are read again
    database_settings.read_again()


FRESH_TABLES = FreshTables()


@pytest.fixture
def tables(request):
    """Fresh, empty tables (and a fresh client bound to them) for one test: a new moto (every
    service's state reset), serverless.yml's tables in it as create_tables makes them."""
    if request.node.get_closest_marker("unit"):
        pytest.fail("tests/unit is pure rules: a test on moto tables belongs in tests/handlers")
    with mock_aws():
        dynamodb.cache_clear()
        FRESH_TABLES.make(dynamodb())
        yield dynamodb()
    dynamodb.cache_clear()


@pytest.fixture
def built_once(tables, request):
    """`built_once(build)`: what `build(tables)` makes, built once per process and copied into
    each test's new moto after (support.FreshTables.built_once): for a module's costly starting
    state (a club of players with bookings made through the handlers)."""

    def built(build):
        return FRESH_TABLES.built_once(tables, f"{request.module.__name__}.{build.__name__}", build)

    return built


class _WaitsPassAtOnce:
    """The `time` module, but a sleep returns at once."""

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        pass


@pytest.fixture(autouse=True)
def stripe_retries_at_once(request, monkeypatch):
    """Stripe's client sleeps before each network retry (0.5 s, then longer): real waits in
    every test of a Stripe fault, 15 s of the handler tests' in all. The handler tests count
    the retries and check what each did, never how long the client waited; so its waits pass
    at once there (its `time`'s sleep), the attempts and their order unchanged."""
    if request.node.get_closest_marker("handlers"):
        monkeypatch.setattr(stripe._http_client, "time", _WaitsPassAtOnce())
    yield


@pytest.fixture
def atomic_moto(tables, monkeypatch):
    """moto applying one request at a time, as DynamoDB applies each atomically.

    moto is not thread-safe; serialising its request processing keeps the emulator sound and
    leaves the handlers' requests free to interleave, so a threaded test measures the
    handlers' logic."""
    lock = threading.Lock()
    process = BotocoreStubber.__call__

    def one_request_at_a_time(self, *args, **kwargs):
        with lock:
            return process(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", one_request_at_a_time)
    return tables
