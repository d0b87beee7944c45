"""Settings (database/settings.py and each package's settings object): read and checked once per
container; a required setting that is missing is an error naming it, never another stage's
table; a function needs only the settings it reads; a bad value fails the cold start, naming
its variable. The cold starts run in a fresh interpreter with only the environment given."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from database import settings
from database.settings import InvalidSetting, MissingSetting
from handlers.admin import statistics
from membership import settings as membership_settings
from notifications.deliver import Settings as DiscordSettings
from payments import settings as payments_settings
from support import add_user, body, http_event, snapshot
from tournaments import settings as tournament_settings

ROOT = Path(__file__).resolve().parents[2]
THREE_TABLES = {
    "USERS_TABLE": "test-users",
    "AVAILABILITIES_TABLE": "test-availabilities",
    "MEETINGS_TABLE": "test-meetings",
}
EVERY_TABLE = [*settings.TABLES, "TOURNAMENTS_TABLE"]


# --- the tables -------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", settings.TABLES)
def test_with_stage_only_each_table_is_the_stages(variable):
    assert settings.read({"stage": "prod"}).table(variable) == f"prod-{settings.TABLES[variable]}"


@pytest.mark.parametrize("variable", settings.TABLES)
def test_the_tables_own_variable_wins_over_the_stage(variable):
    tables = settings.read({"stage": "prod", variable: "club-table"})
    assert tables.table(variable) == "club-table"


@pytest.mark.parametrize("variable", settings.TABLES)
def test_without_its_variable_or_stage_a_table_is_missing_naming_both(variable):
    tables = settings.read({})  # reading succeeds: only a function that needs the table fails

    with pytest.raises(MissingSetting, match=rf"^{variable} \(or stage\) is not set$"):
        tables.table(variable)


def test_an_empty_variable_is_an_unset_one_never_a_default_stage():
    tables = settings.read({"USERS_TABLE": "", "stage": ""})

    with pytest.raises(MissingSetting, match=r"USERS_TABLE \(or stage\)"):
        tables.table("USERS_TABLE")


def test_the_tournaments_table_is_never_named_after_the_stage():
    """No TOURNAMENTS_TABLE means tournaments are off (the calendar lists none), whatever the
    stage: a `<stage>-tournaments` would turn them on against a table that is not there."""
    assert settings.read({"stage": "prod"}).tournaments_table == ""
    assert settings.read({"TOURNAMENTS_TABLE": "prod-tournaments"}).tournaments_table


@pytest.mark.parametrize(
    ("variable", "value"),
    [("USERS_TABLE", "my users"), ("PAYMENTS_TABLE", "prod-payments "),
     ("TOURNAMENTS_TABLE", "t/x"), ("stage", "prod stage"), ("stage", "x" * 300)],
)  # fmt: skip
def test_a_name_dynamodb_would_refuse_is_invalid_naming_its_variable(variable, value):
    with pytest.raises(InvalidSetting, match=rf"^{variable} must be "):
        settings.read({variable: value})


def test_the_client_imports_without_tables_and_names_the_one_missing(monkeypatch):
    for variable in [*EVERY_TABLE, "stage"]:
        monkeypatch.delenv(variable, raising=False)
    from database import client

    with pytest.raises(MissingSetting, match=r"^MEETINGS_TABLE \(or stage\) is not set$"):
        client.MEETINGS_TABLE  # noqa: B018 (the attribute is the test)
    monkeypatch.setenv("stage", "prod")
    assert client.MEETINGS_TABLE == "prod-meetings"


def test_a_function_that_needs_a_table_without_its_name_fails_naming_it(
    tables, monkeypatch, caplog
):
    """The admins' statistics read the statistics table: without STATISTICS_TABLE or stage, a
    500 (nothing changes) whose log line names them, never the dev stage's table."""
    add_user(tables, "root", isAdmin=True)
    monkeypatch.delenv("STATISTICS_TABLE")
    monkeypatch.delenv("stage", raising=False)
    before = snapshot(tables)

    response = statistics.handler(http_event("GET /admin/statistics", caller="root"), None)

    assert response["statusCode"] == 500
    assert body(response) == {"code": 500, "message": "Temporary server error"}
    assert "MissingSetting: STATISTICS_TABLE (or stage) is not set" in caplog.text
    assert snapshot(tables) == before


def test_the_payments_table_without_its_name_or_stage_is_an_error_naming_them(tables, monkeypatch):
    from database import payments

    monkeypatch.delenv("PAYMENTS_TABLE")
    monkeypatch.delenv("stage", raising=False)
    with pytest.raises(MissingSetting, match=r"^PAYMENTS_TABLE \(or stage\) is not set$"):
        payments.get_record("cs_test_1")
    monkeypatch.setenv("PAYMENTS_TABLE", "test-payments")
    assert payments.get_record("cs_test_1") is None


# --- the other packages' settings -----------------------------------------------------------


def test_unset_settings_have_working_defaults():
    payments = payments_settings.read({})
    assert (payments.secret_name, payments.platform_fee_percent, payments.max_unpaid_holds) == (
        "",
        0,
        2,
    )
    assert (payments.account_country, payments.refund_window.total_seconds()) == ("US", 86400)
    assert payments.frontend_host == "http://localhost:3000"
    assert membership_settings.read({}) == membership_settings.Settings("", "")
    assert tournament_settings.read({}).lichess_api == "https://lichess.org"
    assert DiscordSettings.from_environment({}).api_url == "https://discord.com/api/v10"


def test_addresses_lose_their_trailing_slash():
    assert membership_settings.read({"SHOP_URL": "https://shop.example/"}).shop_url == (
        "https://shop.example"
    )
    assert payments_settings.read({"STRIPE_API_BASE": "http://127.0.0.1:4000/_local/stripe/"})


def test_the_payments_stage_is_never_a_default(monkeypatch):
    """Checkout Sessions are tagged with the stage, and a webhook ignores another stage's: a
    function without `stage` would take another stage's payments for its own (it was `dev`)."""
    monkeypatch.delenv("stage", raising=False)
    with pytest.raises(MissingSetting, match="^stage is not set$"):
        payments_settings.stage()
    monkeypatch.setenv("stage", "prod")
    assert payments_settings.stage() == "prod"


@pytest.mark.parametrize(
    ("read", "variable", "value"),
    [
        (payments_settings.read, "PLATFORM_FEE_PERCENT", "ten"),
        (payments_settings.read, "PLATFORM_FEE_PERCENT", "100"),
        (payments_settings.read, "PLATFORM_FEE_PERCENT", "nan"),
        (payments_settings.read, "MAX_UNPAID_HOLDS", "two"),
        (payments_settings.read, "MAX_UNPAID_HOLDS", "2.5"),
        (payments_settings.read, "MAX_UNPAID_HOLDS", "0"),
        (payments_settings.read, "REFUND_WINDOW_HOURS", "-1"),
        (payments_settings.read, "REFUND_WINDOW_HOURS", "1e300"),
        (payments_settings.read, "STRIPE_ACCOUNT_COUNTRY", "usa"),
        (payments_settings.read, "FRONTEND_HOST", "club.example"),
        (payments_settings.read, "STRIPE_API_BASE", "localhost:4000"),
        (membership_settings.read, "SHOP_URL", "shop.example/"),
        (tournament_settings.read, "LICHESS_API_URL", "ftp://lichess.org"),
        (tournament_settings.read, "CHESSCOM_API_URL", "https:// api.chess.com"),
        (DiscordSettings.from_environment, "DISCORD_API_URL", "discord"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(read, variable, value):
    with pytest.raises(InvalidSetting, match=rf"^{variable} must be .*: {value!r}$"):
        read({variable: value})


def test_settings_are_read_once_per_container():
    """A container's environment never changes: its settings are not read again per call (the
    tests' monkeypatch reads them again, as a new container would: conftest.py)."""
    holds = payments_settings.max_unpaid_holds()
    os.environ["MAX_UNPAID_HOLDS"] = str(holds + 1)
    try:
        assert payments_settings.max_unpaid_holds() == holds
    finally:
        del os.environ["MAX_UNPAID_HOLDS"]


# --- cold starts --------------------------------------------------------------------------------


def cold_start(code: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter whose environment is `environment` alone (and PATH, and
    where the run keeps compiled modules: `make test-fast`'s .pycache/, so the child does not
    compile every module it imports again)."""
    env = {**environment, "PATH": os.environ.get("PATH", "")}
    for variable in ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE"):
        if variable in os.environ:
            env[variable] = os.environ[variable]
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


# A version 1 day, run for real on moto: publish, book, list, cancel; the status of each.
V1_DAY = """
import json, os, sys
os.environ.update(AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x', AWS_DEFAULT_REGION='us-east-1')
sys.path.insert(0, 'tests')
from moto import mock_aws
with mock_aws():
    from support import add_user, availability, create_tables, http_event
    from database.client import dynamodb
    from handlers.availability import book, set as publish
    from handlers.meeting import cancel, list as meetings
    create_tables(dynamodb())
    add_user(dynamodb(), 'alice'); add_user(dynamodb(), 'bob')
    published = publish.handler(http_event('PUT /availability', body=availability()))
    a1 = json.loads(published['body'])['id']
    booking = {'owner': 'alice', 'id': a1, 'startTime': '2030-01-01T10:00:00Z',
               'type': 'CLASSICAL_GAME'}
    booked = book.handler(http_event('PUT /availability/book', caller='bob', body=booking))
    listed = meetings.handler(http_event('GET /meeting', caller='bob'))
    canceled = cancel.handler(http_event('PUT /meeting/cancel/{id}', caller='bob',
                                         path={'id': a1}))
    statuses = [r['statusCode'] for r in (published, booked, listed, canceled)]
    count = len(json.loads(listed['body'])['meetings'])
print(json.dumps({'statuses': statuses, 'meetings': count}))
"""


@pytest.mark.parametrize(
    "environment", [THREE_TABLES, {"stage": "test"}], ids=["three table names", "stage only"]
)
def test_a_version_1_function_serves_with_its_tables_alone(environment):
    """As the contract's "Environment" says: the three table names, or the stage they are named
    after, and nothing else (no payments, statistics or notifications table)."""
    run = cold_start(V1_DAY, environment)

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"statuses": [200] * 4, "meetings": 1}


def test_without_tables_or_stage_a_function_fails_its_cold_start_never_using_dev():
    run = cold_start("import handlers.availability.set", {})

    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("database.settings.MissingSetting: ")
    assert last.endswith("_TABLE (or stage) is not set")


@pytest.mark.parametrize(
    ("handler", "variable", "value"),
    [
        ("handlers.availability.set", "MAX_UNPAID_HOLDS", "two"),
        ("handlers.availability.set", "PLATFORM_FEE_PERCENT", "ten"),
        ("handlers.user.get", "SHOP_URL", "shop.example"),
        ("handlers.user.get", "USERS_TABLE", "my users"),
    ],
)
def test_a_bad_value_fails_the_cold_start_naming_its_variable(handler, variable, value):
    run = cold_start(f"import {handler}", {**THREE_TABLES, variable: value})

    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"database.settings.InvalidSetting: {variable} must be ")
    assert last.endswith(f": {value!r}")
