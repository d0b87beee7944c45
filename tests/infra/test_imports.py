"""Import guard: each handler, imported in a fresh interpreter, loads only what it needs.

A cold start is mostly imports, so a stray import (a test tool, the local dev server, boto3's
resource layer...) is a cold-start regression. No timing here: `make bench` measures time;
this only checks which modules get loaded, which is deterministic.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import SERVICE

ROOT = Path(__file__).resolve().parents[2]

# Every function serverless.yml deploys, so a new one is checked as soon as it is declared.
HANDLERS = sorted({function.module for function in SERVICE.functions.values()})
# No handler needs any of these (a name forbids the package and its submodules): test and dev
# tools, the local dev server, the benchmark, SDKs of other services, X-Ray, boto3 (the code
# uses botocore's low-level client; boto3 would also load s3transfer), and pydantic (~110 ms
# of cold start; the functions validate with database/models.py's msgspec Structs, which every
# API handler may load).
FORBIDDEN = [
    "requests",
    "stripe",
    "pymongo",
    "moto",
    "flask",
    "werkzeug",
    "yaml",
    "jwt",
    "local",
    "bench",
    "hypothesis",
    "pytest",
    "aws_xray_sdk",
    "boto3",
    "s3transfer",
    "pydantic",
    "pydantic_core",
    "notifications",
    # The one reader of the stage's secrets (and boto3 under it): the functions that read one.
    "api.secrets",
    # The club's shop: its client and the checks that call it (getUserAccess; createUser only
    # where the stage has a shop, test_sign_up_without_a_shop_never_loads_its_client).
    "membership.shop",
    "membership.check",
    # Contract v4: time zones (~5 ms: zoneinfo's search path loads sysconfig) and the
    # recurrence rules (dateutil.rrule), loaded only where a zone is read or a series made
    # (setAvailability and bookAvailability on those paths only: test_zones_load_on_their_paths).
    "zoneinfo",
    "dateutil.rrule",
    "rules.recurrence",
    "database.series",
    # The calendar feed's iCalendar writer: in getCalendarFeed's zip only.
    "icalendar",
]
SERIES = ["zoneinfo", "dateutil.rrule", "rules.recurrence", "database.series"]
# The functions that talk to Stripe (serverless.yml gives them stripe and the key's secret):
# stripe and requests, and boto3 under Powertools Parameters (which reads the secret). No
# other function may import them: bookAvailability and cancelMeeting only on their priced
# paths (test_free_paths_never_load_stripe).
STRIPE_FUNCTIONS = {
    "handlers.payments.connect",
    "handlers.payments.webhook",
    "handlers.payments.refund",
    "handlers.payments.reconcile",
}
# A function that reads a stage secret: api/secrets.py, and boto3 under Powertools Parameters.
SECRET = ["api.secrets", "boto3", "s3transfer"]
STRIPE_DEPENDENCIES = ["stripe", "requests", *SECRET]
# What one function may load although the others must not: the notify function talks to
# Discord (requests, and its package notifications/) with the bot token from Secrets Manager
# (boto3 under Powertools Parameters), the Stripe functions to Stripe.
# The tournament functions the bot calls read its token from Secrets Manager (boto3, under
# Powertools Parameters); createTournament asks Lichess or Chess.com (requests); the monthly
# job resets the bot's MongoDB: pymongo, in that function only.
TOURNAMENT_FUNCTIONS = {
    "handlers.tournaments.create": [*SECRET, "requests"],
    "handlers.tournaments.update_leaderboard": SECRET,
    "handlers.tournaments.snapshot": [*SECRET, "pymongo"],
}
ALLOWED = {
    "handlers.availability.extend_series": SERIES,
    "handlers.availability.delete_series": SERIES,
    # icalendar loads zoneinfo and dateutil's rrule itself (its time zones and RRULE values).
    "handlers.calendar.feed": ["icalendar", "zoneinfo", "dateutil.rrule"],
    "handlers.stream.notify": ["requests", "notifications", *SECRET],
    # Reminders: which a change owes (notifications/reminders.py); sending them talks to Discord
    # with notify's client and token (zoneinfo and icalendar only once one is sent).
    "handlers.reminders.plan": ["notifications"],
    "handlers.reminders.send": ["requests", "notifications", *SECRET],
    **dict.fromkeys(STRIPE_FUNCTIONS, STRIPE_DEPENDENCIES),
    **TOURNAMENT_FUNCTIONS,
    # The membership check; the shop's client (requests, its key from Secrets Manager) only once
    # a check is due (test_access_checked_within_the_minute_never_loads_the_shop).
    "handlers.user.access": ["membership.check"],
}


def loaded(code: str) -> dict:
    """Runs `code` in a fresh interpreter that knows only its table names (no AWS settings)
    and returns the JSON it prints."""
    env = {
        "USERS_TABLE": "test-users",
        "AVAILABILITIES_TABLE": "test-availabilities",
        "MEETINGS_TABLE": "test-meetings",
    }
    if "PATH" in os.environ:
        env["PATH"] = os.environ["PATH"]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def matches(module: str, names: list[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


@pytest.mark.parametrize("handler_module", HANDLERS)
def test_handler_imports_only_what_it_needs(handler_module):
    result = loaded(
        "import importlib, json, sys\n"
        f"module = importlib.import_module({handler_module!r})\n"
        "print(json.dumps({'callable': callable(getattr(module, 'handler', None)),"
        " 'modules': sorted(sys.modules)}))"
    )
    assert result["callable"], f"{handler_module} has no callable `handler`"

    forbidden = [name for name in FORBIDDEN if name not in ALLOWED.get(handler_module, [])]
    if handler_module in STRIPE_FUNCTIONS:
        assert "stripe" in result["modules"], "the guard must not pass a function by mistake"
    if handler_module == "handlers.tournaments.snapshot":
        assert "pymongo" in result["modules"], "the guard must not pass a function by mistake"
    stray = sorted(m for m in result["modules"] if matches(m, forbidden))
    assert not stray, f"{handler_module} imports modules it does not need: {stray}"


def test_free_paths_never_load_stripe():
    """A free booking and the cancel of a free meeting, run for real (moto) in a fresh
    interpreter, on a stage with payments on: neither loads stripe nor the payment code that
    talks to it. (moto itself loads requests and boto3, so only these are checked here; the
    module-level imports of both handlers are checked above with the whole list.)"""
    result = loaded(
        "import json, os, sys\n"
        "os.environ.update(AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x',\n"
        "    AWS_DEFAULT_REGION='us-east-1', STRIPE_SECRET_NAME='dojo-scheduler/test/stripe')\n"
        "sys.path.insert(0, 'tests')\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    import support\n"
        "    from database.client import dynamodb\n"
        "    from handlers.availability import book, set as publish\n"
        "    from handlers.meeting import cancel\n"
        "    support.create_tables(dynamodb())\n"
        "    support.add_user(dynamodb(), 'alice'); support.add_user(dynamodb(), 'bob')\n"
        "    body = support.availability()\n"
        "    statuses = [publish.handler(support.http_event('PUT /availability', body=body))]\n"
        "    a1 = json.loads(statuses[0]['body'])['id']\n"
        "    booking = {'owner': 'alice', 'id': a1, 'startTime': '2030-01-01T10:00:00Z',\n"
        "               'type': 'CLASSICAL_GAME'}\n"
        "    statuses.append(book.handler(support.http_event('PUT /availability/book',\n"
        "        caller='bob', body=booking)))\n"
        "    statuses.append(cancel.handler(support.http_event('PUT /meeting/cancel/{id}',\n"
        "        caller='bob', path={'id': a1})))\n"
        "print(json.dumps({'statuses': [r['statusCode'] for r in statuses],\n"
        "                  'modules': sorted(sys.modules)}))"
    )
    assert result["statuses"] == [200, 200, 200]
    stray = [m for m in result["modules"] if matches(m, ["stripe", "payments.stripe_client"])]
    assert not stray, stray


def test_sign_up_without_a_shop_never_loads_its_client():
    """createUser, run for real (moto) in a fresh interpreter on a stage without a shop (as
    simple): the shop's client and what it needs are never loaded. (moto loads requests and
    boto3 itself, so the shop's own modules are what is checked.)"""
    result = loaded(
        "import json, os, sys\n"
        "os.environ.update(AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x',\n"
        "    AWS_DEFAULT_REGION='us-east-1')\n"
        "sys.path.insert(0, 'tests')\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    import support\n"
        "    from database.client import dynamodb\n"
        "    from handlers.user import create\n"
        "    support.create_tables(dynamodb())\n"
        "    event = support.post_confirmation_event('bob', email='bob@example.com')\n"
        "    create.handler(event)\n"
        "    item = dynamodb().get_item(TableName='test-users', Key={'username': {'S': 'bob'}})\n"
        "print(json.dumps({'stored': sorted(item['Item']), 'modules': sorted(sys.modules)}))"
    )
    assert result["stored"] == ["email", "name", "username"]
    shop = ["membership.shop", "membership.check", "api.secrets"]
    stray = [m for m in result["modules"] if matches(m, shop)]
    assert not stray, stray


@pytest.mark.parametrize("checked_at, shop_loaded", [("int(time.time())", False), (None, True)])
def test_access_checked_within_the_minute_never_loads_the_shop(checked_at, shop_loaded):
    """getUserAccess, run for real (moto) in a fresh interpreter on a stage with a shop: a
    member whose check is recent is answered from her profile, and neither the shop's client
    nor the secrets' reader is loaded; a member whose check is due loads them to ask (here the
    shop cannot be asked: she stays a member, pending). (moto loads requests and boto3 itself,
    so the shop's own modules are what is checked.)"""
    fields = "" if checked_at is None else f", membershipCheckedAt={checked_at}"
    result = loaded(
        "import json, os, sys, time\n"
        "os.environ.update(AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x',\n"
        "    AWS_DEFAULT_REGION='us-east-1', SHOP_SECRET_NAME='dojo-scheduler/test/shop',\n"
        "    SHOP_URL='http://127.0.0.1:9')\n"
        "sys.path.insert(0, 'tests')\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    import support\n"
        "    from database.client import dynamodb\n"
        "    from handlers.user import access\n"
        "    support.create_tables(dynamodb())\n"
        f"    support.add_user(dynamodb(), 'mia', subscriptionStatus='SUBSCRIBED'{fields})\n"
        "    answer = access.handler(support.http_event('GET /user/access', caller='mia'))\n"
        "print(json.dumps({'status': answer['statusCode'], 'modules': sorted(sys.modules)}))"
    )
    assert result["status"] == 200
    shop = [m for m in result["modules"] if matches(m, ["membership.shop", "api.secrets"])]
    assert bool(shop) == shop_loaded, shop


def test_zones_load_on_their_paths():
    """A free booking of a coach without a daily limit loads no zone; one with a limit loads
    zoneinfo (and its tzdata), not the recurrence rules."""
    result = loaded(
        "import json, os, sys\n"
        "os.environ.update(AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x',\n"
        "    AWS_DEFAULT_REGION='us-east-1')\n"
        "sys.path.insert(0, 'tests')\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    import support\n"
        "    from database.client import dynamodb\n"
        "    from handlers.availability import book\n"
        "    support.create_tables(dynamodb())\n"
        "    support.add_user(dynamodb(), 'alice')\n"
        "    support.add_user(dynamodb(), 'bob')\n"
        "    def booked(slot):\n"
        "        support.publish(dynamodb(), support.availability(id=slot))\n"
        "        event = support.http_event('PUT /availability/book', caller='bob', body={\n"
        "            'owner': 'alice', 'id': slot, 'startTime': '2030-01-01T10:00:00Z',\n"
        "            'type': 'CLASSICAL_GAME'})\n"
        "        assert book.handler(event, None)['statusCode'] == 200\n"
        "        return 'zoneinfo' in sys.modules, 'dateutil.rrule' in sys.modules\n"
        "    free = booked(support.uuid('a'))\n"
        "    dynamodb().update_item(TableName='test-users', Key={'username': {'S': 'alice'}},\n"
        "        UpdateExpression='SET maxBookingsPerDay = :m, #z = :z',\n"
        "        ExpressionAttributeNames={'#z': 'timezone'},\n"
        "        ExpressionAttributeValues={':m': {'N': '3'}, ':z': {'S': 'Europe/Berlin'}})\n"
        "    limited = booked(support.uuid('b'))\n"
        "print(json.dumps({'free': free, 'limited': limited}))"
    )
    assert result == {"free": [False, False], "limited": [True, False]}


def test_the_rules_stand_below_every_layer_and_do_no_io():
    """rules/ (the pure rules) is the bottom layer: handlers -> database -> rules, and payments/
    and membership/ -> rules. Every module of it, imported in a fresh interpreter (and a zone
    read), loads none of the project's other packages, no AWS or HTTP client, and nothing that
    opens a socket."""
    modules = sorted(f"rules.{path.stem}" for path in (ROOT / "rules").glob("*.py"))
    result = loaded(
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from rules.zones import zone\n"
        "zone('Europe/Berlin')\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    assert "rules.booking" in result and "rules.zones" in result
    above = ["api", "database", "handlers", "payments", "membership", "notifications"]
    above += ["tournaments", "feeds", "counters", "local", "bench"]
    clients = ["botocore", "boto3", "requests", "urllib3", "stripe", "pymongo", "msgspec"]
    io = ["socket", "ssl", "http", "subprocess", "aws_lambda_powertools"]
    stray = [m for m in result if matches(m, above + clients + io)]
    assert not stray, stray
