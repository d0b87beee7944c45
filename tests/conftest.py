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
    POWERTOOLS_LOG_LEVEL="INFO",  # every log call runs: a bad log field fails a test
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(variable, None)

import threading  # noqa: E402

import pytest  # noqa: E402
import roles  # noqa: E402
from hypothesis import settings  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core.botocore_stubber import BotocoreStubber  # noqa: E402

import local.stripe_contract  # noqa: E402
from database import settings as database_settings  # noqa: E402
from database.client import dynamodb  # noqa: E402
from local import moto_patches  # noqa: E402
from support import SERVICE, create_tables  # noqa: E402

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


@pytest.fixture
def tables():
    """Fresh, empty tables (and a fresh client bound to them) for one test."""
    with mock_aws():
        dynamodb.cache_clear()
        create_tables(dynamodb())
        yield dynamodb()
    dynamodb.cache_clear()


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
