"""`sls package` for real, offline: the CloudFormation template and the zips that
`sls deploy` would upload, for the `simple`, `dev` and `prod` stages, scanned by checkov.

Needs Node and `npm ci` (make test does it); no AWS credentials are used or needed.
Each stage is packaged once per session (module-scoped fixtures), into a temporary dir.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Each function's zip carries only what its imports reach (README "Lean zips"); a dependency
# several functions import is a layer (counted once, not in these).
MAX_ZIP_BYTES = 1_500_000
MAX_STRIPE_ZIP_BYTES = 6_000_000  # stripe alone is ~3 MB zipped, with its bytecode
# CPython 3.12's bytecode magic number (importlib.util.MAGIC_NUMBER on any 3.12.x).
PY312_MAGIC = (3531).to_bytes(2, "little") + b"\r\n"

HANDLERS = {
    "createUser": "handlers/user/create.handler",
    "getUser": "handlers/user/get.handler",
    "setUser": "handlers/user/set.handler",
    "setAvailability": "handlers/availability/set.handler",
    "getAvailability": "handlers/availability/get.handler",
    "deleteAvailability": "handlers/availability/delete.handler",
    "bookAvailability": "handlers/availability/book.handler",
    "getMeeting": "handlers/meeting/get.handler",
    "listMeetings": "handlers/meeting/list.handler",
    "cancelMeeting": "handlers/meeting/cancel.handler",
    "rescheduleMeeting": "handlers/meeting/reschedule.handler",  # contract v4
    "getCalendar": "handlers/calendar/get.handler",
    # contract version 3: the admins' pages, and their statistics counted from the streams
    "adminListUsers": "handlers/admin/users.handler",
    "adminListAvailabilities": "handlers/admin/availabilities.handler",
    "adminListMeetings": "handlers/admin/meetings.handler",
    "adminGetStatistics": "handlers/admin/statistics.handler",
    "countStatistics": "handlers/stream/statistics.handler",
    # contract version 4: repeating availabilities
    "deleteSeries": "handlers/availability/delete_series.handler",
    "extendSeries": "handlers/availability/extend_series.handler",
    # contract version 4: calendar feeds
    "calendarFeedAddress": "handlers/calendar/feed_address.handler",
    "getCalendarFeed": "handlers/calendar/feed.handler",
}
# Only where config/<stage>.yml says payments: 'true' (dev, prod); simple has none of them.
PAYMENT_HANDLERS = {
    "connectStripeAccount": "handlers/payments/connect.handler",
    "getStripeAccount": "handlers/payments/account.handler",
    "stripeWebhook": "handlers/payments/webhook.handler",
    "refundPayments": "handlers/payments/refund.handler",
    "reconcilePayments": "handlers/payments/reconcile.handler",
}
# The functions that read a time zone (contract v4): the tzdata layer.
ZONE_FUNCTIONS = {
    "setUser",
    "setAvailability",
    "bookAvailability",
    "extendSeries",
    "rescheduleMeeting",
}
# Not behind API Gateway (a stream, a schedule): their timeouts may exceed its 30 s.
BACKGROUND_FUNCTIONS = {"refundPayments", "reconcilePayments", "extendSeries"}
REFUND_DEAD_LETTERS = "RefundsDeadLetterQueue"
# The functions that talk to Stripe: stripe in their zip, and read access to the stage's secret.
STRIPE_FUNCTIONS = {
    "bookAvailability",
    "cancelMeeting",
    "connectStripeAccount",
    "stripeWebhook",
    "refundPayments",
    "reconcilePayments",
}
# Only where config/<stage>.yml says membership: 'true' (dev, prod): the club's shop.
MEMBERSHIP_HANDLERS = {"getUserAccess": "handlers/user/access.handler"}
# The functions that ask the shop: read access to the stage's shop secret (and only they).
SHOP_FUNCTIONS = {"createUser", "getUserAccess"}
# The functions that apply the membership rule: the shop's settings in their environment.
MEMBERSHIP_FUNCTIONS = SHOP_FUNCTIONS | {
    "getUser",
    "setUser",
    "bookAvailability",
    "rescheduleMeeting",
}

# RouteKey -> (function, needs the JWT authorizer)
ROUTES = {
    "GET /user": ("getUser", True),
    "GET /public/user/{username}": ("getUser", False),
    "PUT /user": ("setUser", True),
    "PUT /availability": ("setAvailability", True),
    "GET /availability": ("getAvailability", True),
    "DELETE /availability/{id}": ("deleteAvailability", True),
    "PUT /availability/book": ("bookAvailability", True),
    "GET /meeting/{id}": ("getMeeting", True),
    "GET /meeting": ("listMeetings", True),
    "PUT /meeting/cancel/{id}": ("cancelMeeting", True),
    "PUT /meeting/reschedule/{id}": ("rescheduleMeeting", True),
    "GET /calendar": ("getCalendar", True),
    "GET /admin/user": ("adminListUsers", True),
    "GET /admin/availability": ("adminListAvailabilities", True),
    "GET /admin/meeting": ("adminListMeetings", True),
    "GET /admin/statistics": ("adminGetStatistics", True),
    "DELETE /availability/series/{seriesId}": ("deleteSeries", True),
    "POST /user/calendar-feed": ("calendarFeedAddress", True),
    "DELETE /user/calendar-feed": ("calendarFeedAddress", True),
    "GET /public/calendar-feed/{file}": ("getCalendarFeed", False),  # the token authenticates
}
PAYMENT_ROUTES = {
    "POST /payments/account": ("connectStripeAccount", True),
    "GET /payments/account": ("getStripeAccount", True),
    "POST /stripe/webhook": ("stripeWebhook", False),  # the Stripe signature authenticates
}
MEMBERSHIP_ROUTES = {"GET /user/access": ("getUserAccess", True)}
# Only where config/<stage>.yml says sesMailRequired: true (prod): the daily SES account check.
SES_HANDLERS = {"checkSesAccount": "handlers/mail/check.handler"}

USERS, AVAILABILITIES, MEETINGS = "UsersTable", "AvailabilitiesTable", "MeetingsTable"
NOTIFICATIONS, DEAD_LETTERS = "NotificationsTable", "NotificationsDeadLetterQueue"
STATISTICS, STATISTICS_DEAD_LETTERS = "StatisticsTable", "StatisticsDeadLetterQueue"
SEARCH = f"{AVAILABILITIES}/index/SearchIndex"
OWNER_INDEX = f"{MEETINGS}/index/OwnerIndex"
PARTICIPANT_INDEX = f"{MEETINGS}/index/ParticipantIndex"
JOINED_INDEX = f"{MEETINGS}/index/JoinedIndex"
SERIES_INDEX = f"{MEETINGS}/index/SeriesIndex"
PAYMENTS = "PaymentsTable"
OPEN_INDEX = f"{PAYMENTS}/index/OpenIndex"

# Exactly the DynamoDB grants each function's role must have: (action, table or index).
DYNAMODB_GRANTS = {
    "createUser": {("PutItem", USERS)},
    "getUser": {("GetItem", USERS)},
    "setUser": {("UpdateItem", USERS), ("GetItem", USERS)},
    "setAvailability": {
        ("PutItem", AVAILABILITIES),
        ("UpdateItem", AVAILABILITIES),  # a replacement keeps a series' fields (contract v4)
        ("ConditionCheckItem", MEETINGS),
        ("PutItem", MEETINGS),  # a series' own item
        ("GetItem", USERS),  # the owner's zone, for a series that names none
    },
    "getAvailability": {("Query", AVAILABILITIES), ("Query", SEARCH), ("GetItem", USERS)},
    "deleteAvailability": {("DeleteItem", AVAILABILITIES)},
    "bookAvailability": {
        ("BatchGetItem", AVAILABILITIES),
        ("GetItem", AVAILABILITIES),
        ("DeleteItem", AVAILABILITIES),
        ("UpdateItem", AVAILABILITIES),
        ("BatchGetItem", USERS),
        ("UpdateItem", USERS),  # both members' calendar-feed versions, in the transaction
        ("PutItem", MEETINGS),
        ("UpdateItem", MEETINGS),  # contract v4: a coach's day of meetings
    },
    "getMeeting": {("GetItem", MEETINGS), ("GetItem", USERS)},
    "listMeetings": {("Query", OWNER_INDEX), ("Query", PARTICIPANT_INDEX)},
    "cancelMeeting": {
        *(
            (action, table)
            for action in ("BatchGetItem", "GetItem", "UpdateItem")
            for table in (MEETINGS, AVAILABILITIES)
        ),
        ("PutItem", AVAILABILITIES),
        ("UpdateItem", USERS),  # every member's calendar-feed version, in the transaction
    },
    "rescheduleMeeting": {
        ("BatchGetItem", AVAILABILITIES),
        ("DeleteItem", AVAILABILITIES),  # the new slot, booked
        ("PutItem", AVAILABILITIES),  # the old slot, reopened
        ("BatchGetItem", MEETINGS),
        ("GetItem", MEETINGS),  # the day's set, for a move within a day that has a limit
        ("PutItem", MEETINGS),
        ("UpdateItem", MEETINGS),
        ("BatchGetItem", USERS),
        ("UpdateItem", USERS),  # both members' calendar-feed versions, in the transaction
    },
    "getCalendar": {
        ("GetItem", USERS),
        ("Query", AVAILABILITIES),
        ("Query", SEARCH),
        ("Query", OWNER_INDEX),
        ("Query", PARTICIPANT_INDEX),
        ("Query", JOINED_INDEX),
        ("BatchGetItem", AVAILABILITIES),
    },
    # The only Scans, each on its own table (tests/handlers/test_admin.py), after the caller's
    # profile.
    "adminListUsers": {("GetItem", USERS), ("Scan", USERS)},
    "adminListAvailabilities": {("GetItem", USERS), ("Scan", AVAILABILITIES)},
    "adminListMeetings": {("GetItem", USERS), ("Scan", MEETINGS)},
    "adminGetStatistics": {("GetItem", USERS), ("GetItem", STATISTICS)},
    "deleteSeries": {
        ("UpdateItem", MEETINGS),
        ("Query", AVAILABILITIES),
        ("DeleteItem", AVAILABILITIES),
    },
    # The caller's hash, then their item, their feed item and an old address's token item
    # (docs/calendar-feed.md) in one transaction.
    "calendarFeedAddress": {
        ("GetItem", USERS),
        ("UpdateItem", USERS),
        ("DeleteItem", USERS),
    },
    "getCalendarFeed": {
        ("GetItem", USERS),
        ("Query", AVAILABILITIES),
        ("Query", OWNER_INDEX),
        ("Query", PARTICIPANT_INDEX),
        ("Query", JOINED_INDEX),
        ("BatchGetItem", AVAILABILITIES),
    },
    "extendSeries": {
        ("Query", SERIES_INDEX),
        ("GetItem", MEETINGS),
        ("UpdateItem", MEETINGS),
        ("PutItem", AVAILABILITIES),
    },
}

# What payments add on dev: a priced availability checks the owner's account in its transaction.
PAYMENT_GRANTS = {
    "setAvailability": {("ConditionCheckItem", USERS)},
    "connectStripeAccount": {("GetItem", USERS), ("UpdateItem", USERS)},
    "getStripeAccount": {("GetItem", USERS)},
    # A priced booking reads the coach's payout account, then holds the slot with the session's
    # ledger record and the player's unpaid holds.
    "bookAvailability": {("GetItem", USERS), ("PutItem", PAYMENTS), ("UpdateItem", PAYMENTS)},
    "cancelMeeting": {("GetItem", PAYMENTS), ("UpdateItem", PAYMENTS)},
    "rescheduleMeeting": {("UpdateItem", PAYMENTS)},  # the ledger names the new meeting
    "stripeWebhook": {
        ("GetItem", MEETINGS),
        ("UpdateItem", MEETINGS),
        ("GetItem", PAYMENTS),
        ("UpdateItem", PAYMENTS),
        ("PutItem", AVAILABILITIES),
        ("UpdateItem", USERS),
    },
    "refundPayments": {
        ("UpdateItem", PAYMENTS),
        ("UpdateItem", MEETINGS),
        *(
            (verb, f"{PAYMENTS}/stream")
            for verb in ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams")
        ),
        ("sqs:SendMessage", REFUND_DEAD_LETTERS),
    },
    "reconcilePayments": {
        ("Query", OPEN_INDEX),
        ("GetItem", PAYMENTS),
        ("UpdateItem", PAYMENTS),
        ("GetItem", MEETINGS),
        ("UpdateItem", MEETINGS),
        ("PutItem", AVAILABILITIES),
        ("UpdateItem", USERS),  # a released hold: both members' calendar-feed versions
    },
    # Membership (dev and prod too): the claim of a check and its answer, both UpdateItem.
    "getUserAccess": {("UpdateItem", USERS)},
}


def handlers_of(package: Package) -> dict[str, str]:
    full = {**PAYMENT_HANDLERS, **MEMBERSHIP_HANDLERS} if package.stage != "simple" else {}
    ses = SES_HANDLERS if package.stage == "prod" else {}
    return {**HANDLERS, **full, **ses}


def routes_of(package: Package) -> dict[str, tuple[str, bool]]:
    full = {**PAYMENT_ROUTES, **MEMBERSHIP_ROUTES} if package.stage != "simple" else {}
    return {**ROUTES, **full}


def grants_of(package: Package) -> dict[str, set]:
    if package.stage == "simple":
        return DYNAMODB_GRANTS
    return {
        name: DYNAMODB_GRANTS.get(name, set()) | PAYMENT_GRANTS.get(name, set())
        for name in {*DYNAMODB_GRANTS, *PAYMENT_GRANTS}
    }


# Dummy values shaped like real ones (a Google client secret, a Discord bot token), so a
# secret that reaches a template or an environment is recognised as one
# (test_no_secret_in_any_template_or_environment).
DUMMY_GOOGLE_SECRET = "GOCSPX-dUmMy0nLy4TeStS-0123456789ab"
DUMMY_BOT_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAz.GdUmMy.dummy-bot-token-0123456789abcdefghij"
DUMMY_OAUTH = f"client_id: dummy-client-id\nclient_secret: {DUMMY_GOOGLE_SECRET}\n"
DUMMY_DISCORD = f"discordAuth: {DUMMY_BOT_TOKEN}\n"
DUMMY_WIX = "wixApiKey: dummy-wix-api-key-0123456789\n"
# What secrets look like: Google OAuth client secrets, Discord bot tokens, Stripe keys and
# signing secrets, AWS access keys, private keys, and the dummy values above.
SECRET_LOOKING = re.compile(
    r"GOCSPX-[\w-]{10,}"
    r"|[MNO][A-Za-z\d_-]{23,}\.[\w-]{6}\.[\w-]{27,}"
    r"|\b(?:sk|rk|pk)_(?:live|test)_\w+|\bwhsec_\w+"
    r"|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    rf"|{re.escape(DUMMY_GOOGLE_SECRET)}|{re.escape(DUMMY_BOT_TOKEN)}"
)
# The full stages read the operator's alarm address from the environment.
ALARM_EMAIL = "alarms@example.com"
# prod's SES identity and From address (docs/deploy.md, "Mail through SES"), from the
# environment too.
SES_IDENTITY_ARN = "arn:aws:ses:us-east-1:123456789012:identity/chessdojo.club"
SES_MAIL = {
    "SES_IDENTITY_ARN": SES_IDENTITY_ARN,
    "MAIL_FROM": "ChessDojo <no-reply@chessdojo.club>",
}


def logical_id(function: str) -> str:
    return function[0].upper() + function[1:] + "LambdaFunction"


class Package:
    """One `sls package` output: the template and the function zips."""

    def __init__(self, stage: str, path: Path, seconds: float) -> None:
        self.stage = stage
        self.path = path
        self.seconds = seconds
        self.template_path = path / "cloudformation-template-update-stack.json"
        self.template = json.loads(self.template_path.read_text())
        self.resources: dict = self.template["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def effective_of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.effective().items() if v["Type"] == cfn_type}

    def effective(self) -> dict[str, dict]:
        """The resources CloudFormation would create: those whose Condition holds."""
        conditions = self.template.get("Conditions", {})
        return {
            k: v
            for k, v in self.resources.items()
            if "Condition" not in v or evaluate(conditions[v["Condition"]], conditions)
        }


def evaluate(expr, conditions: dict):
    """Evaluate a condition or an Fn::If whose inputs are literals (stage settings)."""
    if isinstance(expr, dict) and len(expr) == 1:
        ((fn, args),) = expr.items()
        if fn == "Fn::Equals":
            return evaluate(args[0], conditions) == evaluate(args[1], conditions)
        if fn == "Fn::Not":
            return not evaluate(args[0], conditions)
        if fn == "Fn::And":
            return all(evaluate(a, conditions) for a in args)
        if fn == "Fn::Or":
            return any(evaluate(a, conditions) for a in args)
        if fn == "Condition":
            return evaluate(conditions[args], conditions)
        if fn == "Fn::If":
            name, then, otherwise = args
            return then if evaluate(conditions[name], conditions) else otherwise
    return expr


def clean_env() -> dict[str, str]:
    """This environment without any AWS_* variable (packaging must not need AWS) nor the
    alarm address (each stage gets the one it needs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("ALARM_EMAIL", None)
    env["SLS_TELEMETRY_DISABLED"] = "1"
    return env


# Not copied into the packaging tree: tools, caches, and the git-ignored secret files
# (so packaging `simple` proves it needs none of them).
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    "node_modules",
    ".venv",
    ".serverless",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "__pycache__",
    "oauth.yml",
    "discord.yml",
    "tournament.yml",
    "wix.yml",
)


def sls_package(
    stage: str,
    workdir: Path,
    files: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Package:
    """`sls package --stage STAGE` on a copy of the repo (the framework scribbles in
    <service>/.serverless, which would collide with a concurrent `make package`), with
    `files` written over the copy and `env` added to the environment."""
    npx = shutil.which("npx")
    assert npx, "npx (Node.js) is required to package the service; install Node 20+"
    node_modules = ROOT / "node_modules"
    assert (node_modules / ".bin" / "sls").exists(), "run `npm ci` first"
    service = workdir / "service"
    shutil.copytree(ROOT, service, ignore=NOT_COPIED, symlinks=True)
    (service / "node_modules").symlink_to(node_modules, target_is_directory=True)
    for name, text in (files or {}).items():
        (service / name).write_text(text)
    out = workdir / "package"

    started = time.monotonic()
    proc = subprocess.run(
        [npx, "--no-install", "sls", "package", "--stage", stage, "--package", str(out)],
        cwd=service,
        env={**clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - started
    assert proc.returncode == 0, (
        f"sls package --stage {stage} failed:\n{proc.stdout}\n{proc.stderr}"
    )
    print(f"\nsls package --stage {stage}: {seconds:.1f} s")
    return Package(stage, out, seconds)


@pytest.fixture(scope="module")
def simple(tmp_path_factory) -> Package:
    return sls_package("simple", tmp_path_factory.mktemp("sls-simple"))


def full_stage(
    stage: str,
    workdir: Path,
    files: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Package:
    # dev and prod have Google sign-in, whose OAuth client is read from the git-ignored
    # oauth.yml, membership, whose shop key wix.yml must hold, and alarms, whose address is
    # read from $ALARM_EMAIL.
    files = {"oauth.yml": DUMMY_OAUTH, "wix.yml": DUMMY_WIX, **(files or {})}
    return sls_package(stage, workdir, files, env={"ALARM_EMAIL": ALARM_EMAIL, **(env or {})})


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Package:
    # dev with Discord notifications too, whose bot token is read from the git-ignored
    # discord.yml (prod is packaged without one: notifications off).
    return full_stage("dev", tmp_path_factory.mktemp("sls-dev"), {"discord.yml": DUMMY_DISCORD})


@pytest.fixture(scope="module")
def prod(tmp_path_factory) -> Package:
    # prod sends Cognito's mail through SES, from the identity the operator gives.
    return full_stage("prod", tmp_path_factory.mktemp("sls-prod"), env=SES_MAIL)


@pytest.fixture(params=["simple", "dev"])
def package(request) -> Package:
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["dev", "prod"])
def full(request) -> Package:
    """A stage that keeps its data and raises alarms."""
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["simple", "dev", "prod"])
def any_stage(request) -> Package:
    return request.getfixturevalue(request.param)


def stage_settings(stage: str) -> dict:
    """config/<stage>.yml as written (variables unresolved)."""
    return yaml.safe_load((ROOT / "config" / f"{stage}.yml").read_text())


# --- helpers to read CloudFormation values ---------------------------------------------


def ref_name(value) -> str | None:
    """'X' for {Ref: X} or {Fn::GetAtt: [X, ...]}; None otherwise."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else att.split(".")[0]
    return None


def arn_target(resource) -> str:
    """'Table' for the table's Arn, 'Table/index/Name' for an index ARN built from it."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        assert resource["Fn::GetAtt"][1] == "Arn", resource
        return ref_name(resource)
    if isinstance(resource, dict) and "Fn::Join" in resource:
        sep, parts = resource["Fn::Join"]
        return sep.join(arn_target(p) if isinstance(p, dict) else p for p in parts)
    raise AssertionError(f"unexpected DynamoDB resource {resource!r}")


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def role_statements(role: dict) -> list[dict]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    ]


# --- tables -----------------------------------------------------------------------------


def key_schema(table: dict) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]]


def test_tables(package: Package):
    tables = package.effective_of_type("AWS::DynamoDB::Table")
    notifying = package.stage == "dev"
    assert set(tables) == {USERS, AVAILABILITIES, MEETINGS, STATISTICS} | (
        {NOTIFICATIONS} if notifying else set()
    ) | ({PAYMENTS} if package.stage != "simple" else set())
    props = {name: t["Properties"] for name, t in tables.items()}
    stage = package.stage
    assert props[USERS]["TableName"] == f"{stage}-users"
    assert props[AVAILABILITIES]["TableName"] == f"{stage}-availabilities"
    assert props[MEETINGS]["TableName"] == f"{stage}-meetings"
    for p in props.values():
        assert p["BillingMode"] == "PAY_PER_REQUEST"

    assert key_schema(props[USERS]) == [("username", "HASH")]
    assert "GlobalSecondaryIndexes" not in props[USERS]
    assert key_schema(props[AVAILABILITIES]) == [("owner", "HASH"), ("id", "RANGE")]
    assert key_schema(props[MEETINGS]) == [("id", "HASH")]

    def indexes(p):
        return {
            i["IndexName"]: (key_schema(i), i["Projection"]["ProjectionType"])
            for i in p.get("GlobalSecondaryIndexes", [])
        }

    assert indexes(props[AVAILABILITIES]) == {
        "SearchIndex": ([("status", "HASH"), ("startTime", "RANGE")], "ALL")
    }
    assert indexes(props[MEETINGS]) == {
        "OwnerIndex": ([("owner", "HASH"), ("id", "RANGE")], "ALL"),
        "ParticipantIndex": ([("participant", "HASH"), ("id", "RANGE")], "ALL"),
        # version 2: the seats of group sessions, by player and start (the calendar's Query)
        "JoinedIndex": ([("joinedBy", "HASH"), ("startTime", "RANGE")], "ALL"),
        # version 4: the repeating availabilities still running, by how far they were extended
        "SeriesIndex": ([("seriesStatus", "HASH"), ("extendedUntil", "RANGE")], "ALL"),
    }
    for name in (AVAILABILITIES, MEETINGS):
        assert props[name]["TimeToLiveSpecification"] == {
            "AttributeName": "expirationTime",
            "Enabled": True,
        }
    assert "TimeToLiveSpecification" not in props[USERS]


# --- functions --------------------------------------------------------------------------


def test_functions(package: Package):
    functions = package.effective_of_type("AWS::Lambda::Function")
    notify = {"notify"} if package.stage == "dev" else set()
    assert set(functions) == {logical_id(f) for f in handlers_of(package).keys() | notify}
    for name, handler in handlers_of(package).items():
        props = functions[logical_id(name)]["Properties"]
        assert props["Handler"] == handler
        runtime = props["Runtime"]
        assert runtime.startswith("python3.")
        assert int(runtime.split(".")[1]) >= 12, runtime
        assert props["Architectures"] == ["arm64"]
        assert props["MemorySize"] >= 512
        # under API Gateway's 30 s limit, but for the functions it does not call
        assert 3 <= props["Timeout"] <= (300 if name in BACKGROUND_FUNCTIONS else 29)
        env = props["Environment"]["Variables"]
        assert env["stage"] == package.stage
        assert env["USERS_TABLE"] == {"Ref": USERS}
        assert env["AVAILABILITIES_TABLE"] == {"Ref": AVAILABILITIES}
        assert env["MEETINGS_TABLE"] == {"Ref": MEETINGS}
        assert env["POWERTOOLS_SERVICE_NAME"] == "dojo-scheduler"
        assert env["LOG_LEVEL"]


# --- HTTP API ---------------------------------------------------------------------------


def test_routes_and_authorizer(package: Package):
    apis = package.of_type("AWS::ApiGatewayV2::Api")
    assert len(apis) == 1
    (api,) = apis.values()
    assert api["Properties"]["ProtocolType"] == "HTTP"
    assert api["Properties"].get("CorsConfiguration"), "cors: true"

    authorizers = package.of_type("AWS::ApiGatewayV2::Authorizer")
    assert len(authorizers) == 1
    ((authorizer_id, authorizer),) = authorizers.items()
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    assert props["JwtConfiguration"]["Audience"] == [{"Ref": "CognitoUserPoolClient"}]
    issuer = json.dumps(props["JwtConfiguration"]["Issuer"])
    assert "https://cognito-idp." in issuer
    assert '{"Ref": "CognitoUserPool"}' in issuer

    integrations = package.of_type("AWS::ApiGatewayV2::Integration")
    routes = package.of_type("AWS::ApiGatewayV2::Route")
    by_key = {r["Properties"]["RouteKey"]: r["Properties"] for r in routes.values()}
    assert "$default" not in by_key
    assert set(by_key) == set(routes_of(package))
    for key, (function, authenticated) in routes_of(package).items():
        route = by_key[key]
        if authenticated:
            assert route.get("AuthorizationType") == "JWT", key
            assert route.get("AuthorizerId") == {"Ref": authorizer_id}, key
        else:
            assert route.get("AuthorizationType", "NONE") == "NONE", key
            assert "AuthorizerId" not in route, key
        _, parts = route["Target"]["Fn::Join"]
        integration = integrations[ref_name(parts[1])]["Properties"]
        assert integration["PayloadFormatVersion"] == "2.0"
        assert ref_name(integration["IntegrationUri"]) == logical_id(function), key


# --- Cognito ----------------------------------------------------------------------------


def test_user_pool_and_post_confirmation(any_stage: Package):
    package = any_stage
    pools = package.of_type("AWS::Cognito::UserPool")
    assert list(pools) == ["CognitoUserPool"]
    pool = pools["CognitoUserPool"]["Properties"]
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["AliasAttributes"] == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True} in (
        pool["Schema"]
    )
    # At least Cognito's default length; no character-class rule the frontends do not state.
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 8,
        "RequireLowercase": False,
        "RequireNumbers": False,
        "RequireSymbols": False,
        "RequireUppercase": False,
    }
    assert ref_name(pool["LambdaConfig"]["PostConfirmation"]) == logical_id("createUser")

    permissions = [
        p["Properties"]
        for p in package.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
    ]
    assert len(permissions) == 1
    (permission,) = permissions
    assert permission["Action"] == "lambda:InvokeFunction"
    assert ref_name(permission["FunctionName"]) == logical_id("createUser")
    assert ref_name(permission["SourceArn"]) == "CognitoUserPool"

    clients = package.of_type("AWS::Cognito::UserPoolClient")
    assert list(clients) == ["CognitoUserPoolClient"]
    # SRP (Amplify's signIn) and refresh only: the password itself is never sent to Cognito
    # (USER_PASSWORD_AUTH is `make run`'s, local only).
    assert clients["CognitoUserPoolClient"]["Properties"]["ExplicitAuthFlows"] == [
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]
    assert package.of_type("AWS::Cognito::UserPoolDomain")

    outputs = package.template["Outputs"]
    for name in ("ApiUrl", "UserPoolId", "UserPoolClientId", "Region"):
        assert name in outputs, name


def identity_providers(package: Package) -> list:
    client = package.resources["CognitoUserPoolClient"]["Properties"]
    conditions = package.template.get("Conditions", {})
    return [ref_name(p) or p for p in evaluate(client["SupportedIdentityProviders"], conditions)]


def test_google_sign_in_only_off_simple(simple: Package, dev: Package):
    google = "AWS::Cognito::UserPoolIdentityProvider"
    assert not [r for r in simple.effective().values() if r["Type"] == google]
    assert identity_providers(simple) == ["COGNITO"]

    providers = {k: r for k, r in dev.effective().items() if r["Type"] == google}
    assert list(providers) == ["GoogleIdentityProvider"]
    props = providers["GoogleIdentityProvider"]["Properties"]
    assert props["ProviderType"] == "Google"
    assert props["ProviderDetails"]["client_id"]
    assert identity_providers(dev) == ["COGNITO", "GoogleIdentityProvider"]


# --- IAM --------------------------------------------------------------------------------


def test_no_wildcards_in_iam(package: Package):
    roles = package.of_type("AWS::IAM::Role")
    policies = package.of_type("AWS::IAM::Policy")
    statements = [s for r in roles.values() for s in role_statements(r)] + [
        s
        for p in policies.values()
        for s in as_list(p["Properties"]["PolicyDocument"]["Statement"])
    ]
    assert statements
    for statement in statements:
        actions = as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], statement
        if any(a.startswith("dynamodb:") for a in actions):
            assert "*" not in as_list(statement["Resource"]), statement
            assert "NotResource" not in statement and "NotAction" not in statement


def test_each_function_has_least_privilege_role(package: Package):
    functions = package.of_type("AWS::Lambda::Function")
    roles = package.of_type("AWS::IAM::Role")
    seen_roles = set()
    for name, expected in grants_of(package).items():
        role_id = ref_name(functions[logical_id(name)]["Properties"]["Role"])
        assert role_id in roles, name
        assert role_id not in seen_roles, f"{name} shares a role"
        seen_roles.add(role_id)

        granted = set()
        for statement in role_statements(roles[role_id]):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                service, _, verb = action.partition(":")
                if service == "logs":
                    assert verb in {"CreateLogStream", "PutLogEvents"}, action
                    continue
                if service == "secretsmanager":
                    assert package.stage != "simple", name
                    assert verb == "GetSecretValue", action
                    secrets = [
                        *([secret_arn(package.stage)] if name in STRIPE_FUNCTIONS else []),
                        *([secret_arn(package.stage, "shop")] if name in SHOP_FUNCTIONS else []),
                    ]
                    assert statement["Resource"] in [[secret] for secret in secrets], statement
                    continue
                if service == "sqs":  # a stream's on-failure destination
                    for resource in as_list(statement["Resource"]):
                        granted.add((action, ref_name(resource)))
                    continue
                assert service == "dynamodb", f"{name}: unexpected {action}"
                for resource in as_list(statement["Resource"]):
                    attribute = (resource.get("Fn::GetAtt") or [None, None])[1]
                    if attribute == "StreamArn":
                        granted.add((verb, f"{ref_name(resource)}/stream"))
                        continue
                    granted.add((verb, arn_target(resource)))
        assert granted == expected, name


# --- notifications ----------------------------------------------------------------------


NOTIFY_MAPPINGS = {
    "NotifyEventSourceMappingDynamodbAvailabilitiesTable": AVAILABILITIES,
    "NotifyEventSourceMappingDynamodbMeetingsTable": MEETINGS,
}


def stream_specification(package: Package, table: str):
    spec = package.resources[table]["Properties"].get("StreamSpecification")
    return evaluate(spec, package.template.get("Conditions", {}))


def test_simple_has_no_notifications(simple: Package):
    effective = simple.effective()
    for name in ("NotifyLambdaFunction", "NotifyLambdaFunctionRole", NOTIFICATIONS, DEAD_LETTERS):
        assert name in simple.resources and name not in effective, name
    for mapping in NOTIFY_MAPPINGS:
        assert mapping not in effective
    # the streams are on for countStatistics alone
    assert set(simple.effective_of_type("AWS::Lambda::EventSourceMapping")) == set(
        STATISTICS_MAPPINGS
    )
    for table in (AVAILABILITIES, MEETINGS):
        assert stream_specification(simple, table) == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_dev_streams_feed_notify_with_retries_and_a_dead_letter_queue(dev: Package):
    effective = dev.effective()
    for table in (AVAILABILITIES, MEETINGS):
        assert stream_specification(dev, table) == {"StreamViewType": "NEW_AND_OLD_IMAGES"}

    function = effective["NotifyLambdaFunction"]["Properties"]
    assert function["Handler"] == "handlers/stream/notify.handler"
    env = function["Environment"]["Variables"]
    assert env["NOTIFICATIONS_TABLE"] == {"Ref": NOTIFICATIONS}
    # The token's secret, by name: only notify may read it.
    assert env["DISCORD_SECRET_NAME"] == "dojo-scheduler/dev/discord"
    assert "DISCORD_AUTH" not in env
    assert {"DISCORD_GUILD_ID", "DISCORD_CHANNEL_ID", "FRONTEND_HOST"} <= set(env)

    mappings = dev.effective_of_type("AWS::Lambda::EventSourceMapping")
    assert set(mappings) == set(NOTIFY_MAPPINGS) | set(STATISTICS_MAPPINGS) | {REFUND_MAPPING}
    for mapping_id, table in NOTIFY_MAPPINGS.items():
        props = mappings[mapping_id]["Properties"]
        assert props["EventSourceArn"] == {"Fn::GetAtt": [table, "StreamArn"]}
        assert ref_name(props["FunctionName"]) == "NotifyLambdaFunction"
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["BisectBatchOnFunctionError"] is True
        assert 0 < props["MaximumRetryAttempts"] <= 10
        assert 60 <= props["MaximumRecordAgeInSeconds"] <= 24 * 3600
        assert props["StartingPosition"] == "LATEST"
        destination = props["DestinationConfig"]["OnFailure"]["Destination"]
        assert destination == {"Fn::GetAtt": [DEAD_LETTERS, "Arn"]}
    assert effective[DEAD_LETTERS]["Type"] == "AWS::SQS::Queue"
    notifications = effective[NOTIFICATIONS]["Properties"]
    assert key_schema(notifications) == [("id", "HASH")]
    assert notifications["TimeToLiveSpecification"]["AttributeName"] == "expirationTime"


REFUND_MAPPING = "RefundPaymentsEventSourceMappingDynamodbPaymentsTable"


def test_refunds_run_on_the_ledgers_stream_with_retries_and_a_dead_letter_queue(dev: Package):
    effective = dev.effective()
    assert stream_specification(dev, PAYMENTS) == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    props = dev.effective_of_type("AWS::Lambda::EventSourceMapping")[REFUND_MAPPING]["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [PAYMENTS, "StreamArn"]}
    assert ref_name(props["FunctionName"]) == "RefundPaymentsLambdaFunction"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 < props["MaximumRetryAttempts"] <= 10
    destination = props["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": [REFUND_DEAD_LETTERS, "Arn"]}
    assert effective[REFUND_DEAD_LETTERS]["Type"] == "AWS::SQS::Queue"
    ledger = effective[PAYMENTS]["Properties"]
    assert key_schema(ledger) == [("id", "HASH")]
    assert ledger["TimeToLiveSpecification"]["AttributeName"] == "expirationTime"
    [index] = ledger["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "OpenIndex"
    rules = dev.effective_of_type("AWS::Events::Rule")
    reconcile = [r for name, r in rules.items() if name.startswith("ReconcilePayments")]
    assert [r["Properties"]["ScheduleExpression"] for r in reconcile] == ["rate(2 minutes)"]


def test_notify_has_least_privilege_role(dev: Package):
    function = dev.effective()["NotifyLambdaFunction"]["Properties"]
    role = dev.effective()[ref_name(function["Role"])]
    granted = set()
    for statement in role_statements(role):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            if action.startswith("logs:"):
                continue
            if action.startswith("secretsmanager:"):
                assert action == "secretsmanager:GetSecretValue"
                assert statement["Resource"] == [secret_arn(dev.stage, "discord")], statement
                continue
            for resource in as_list(statement["Resource"]):
                name, attribute = resource["Fn::GetAtt"]
                granted.add((action, name, attribute))
    streams = {
        (f"dynamodb:{verb}", table, "StreamArn")
        for verb in ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams")
        for table in (AVAILABILITIES, MEETINGS)
    }
    notifications = {
        (f"dynamodb:{verb}", NOTIFICATIONS, "Arn")
        for verb in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
    }
    assert granted == streams | notifications | {
        ("dynamodb:GetItem", USERS, "Arn"),
        ("sqs:SendMessage", DEAD_LETTERS, "Arn"),
    }


STATISTICS_MAPPINGS = {
    "CountStatisticsEventSourceMappingDynamodbAvailabilitiesTable": AVAILABILITIES,
    "CountStatisticsEventSourceMappingDynamodbMeetingsTable": MEETINGS,
}


def test_statistics_are_counted_from_the_streams_on_every_stage(any_stage: Package):
    effective = any_stage.effective()
    for name, table in STATISTICS_MAPPINGS.items():
        props = effective[name]["Properties"]
        assert props["EventSourceArn"] == {"Fn::GetAtt": [table, "StreamArn"]}
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["MaximumRetryAttempts"] == 8
        assert props["BisectBatchOnFunctionError"] is True
        destination = props["DestinationConfig"]["OnFailure"]["Destination"]
        assert destination == {"Fn::GetAtt": [STATISTICS_DEAD_LETTERS, "Arn"]}
    assert STATISTICS_DEAD_LETTERS in effective and STATISTICS in effective


def test_count_statistics_has_least_privilege_role(any_stage: Package):
    function = any_stage.effective()["CountStatisticsLambdaFunction"]["Properties"]
    role = any_stage.effective()[ref_name(function["Role"])]
    granted = set()
    for statement in role_statements(role):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            if action.startswith("logs:"):
                continue
            for resource in as_list(statement["Resource"]):
                name, attribute = resource["Fn::GetAtt"]
                granted.add((action, name, attribute))
    streams = {
        (f"dynamodb:{verb}", table, "StreamArn")
        for verb in ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams")
        for table in (AVAILABILITIES, MEETINGS)
    }
    assert granted == streams | {
        ("dynamodb:PutItem", STATISTICS, "Arn"),
        ("dynamodb:UpdateItem", STATISTICS, "Arn"),
        ("dynamodb:GetItem", USERS, "Arn"),
        ("sqs:SendMessage", STATISTICS_DEAD_LETTERS, "Arn"),
    }


def test_notify_zip(dev: Package):
    with zipfile.ZipFile(dev.path / "notify.zip") as zf:
        names = set(zf.namelist())
    assert "handlers/stream/notify.py" in names
    assert {"notifications/changes.py", "notifications/discord.py"} <= names
    assert "database/notifications.py" in names
    # requests (Discord's client) comes from the requests layer, not the zip.
    assert "requests/__init__.py" not in names
    assert "python/requests/__init__.py" in layer_files(dev, "notify")


# --- secrets --------------------------------------------------------------------------------


def test_no_secret_in_any_template_or_environment(any_stage: Package):
    """dev and prod are packaged with secret-looking oauth.yml and discord.yml (dev): none of
    it may reach the template (Google's secret is a dynamic reference), nor any function's
    environment (the Discord token is read from Secrets Manager)."""
    text = any_stage.template_path.read_text()
    assert not SECRET_LOOKING.findall(text)
    for name, function in any_stage.of_type("AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for variable, value in variables.items():
            assert not SECRET_LOOKING.search(json.dumps(value)), (name, variable)
            if re.search(r"TOKEN|SECRET|PASSWORD|AUTH|KEY", variable):
                # Only names of secrets, e.g. STRIPE_SECRET_NAME: dojo-scheduler/dev/stripe.
                assert variable.endswith("_SECRET_NAME"), (name, variable)
                assert value == f"dojo-scheduler/{any_stage.stage}/{value.rsplit('/', 1)[1]}"


def test_the_google_client_secret_is_a_dynamic_reference(dev: Package, prod: Package):
    for package in (dev, prod):
        props = package.resources["GoogleIdentityProvider"]["Properties"]["ProviderDetails"]
        assert props["client_id"] == "dummy-client-id"
        assert props["client_secret"] == (
            f"{{{{resolve:secretsmanager:dojo-scheduler/{package.stage}/google"
            ":SecretString:client_secret}}"
        )


def test_the_secret_scan_recognises_secrets():
    for secret in (DUMMY_GOOGLE_SECRET, DUMMY_BOT_TOKEN, "sk_live_51abc", "whsec_abc"):
        assert SECRET_LOOKING.search(f'{{"x": "{secret}"}}'), secret
    for name in ("dojo-scheduler/dev/discord", "dev-users", "dummy-client-id"):
        assert not SECRET_LOOKING.search(name), name


# --- payments (Stripe) ----------------------------------------------------------------------


def secret_arn(stage: str, purpose: str = "stripe") -> dict:
    """The ARN of the stage's secret for `purpose`, and of nothing else (Secrets Manager adds
    six random characters to a secret's name)."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":secretsmanager:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":secret:dojo-scheduler/{stage}/{purpose}-??????",
            ],
        ]
    }


def test_payments_only_where_the_stage_has_them(simple: Package, dev: Package):
    text = simple.template_path.read_text()
    for word in ("STRIPE_SECRET_NAME", "Stripe", "stripe"):
        assert word not in text, word
    # simple reads no secret at all (notify's role, which would, is not created there).
    effective = json.dumps(simple.effective())
    assert "secretsmanager" not in effective and "{{resolve:" not in effective

    functions = dev.of_type("AWS::Lambda::Function")
    # setAvailability and rescheduleMeeting read the settings (a price, a refund window) but
    # never Stripe.
    settings_only = {"setAvailability", "rescheduleMeeting"}
    for name in (*STRIPE_FUNCTIONS, *settings_only, "getStripeAccount"):
        env = functions[logical_id(name)]["Properties"]["Environment"]["Variables"]
        assert env["STRIPE_SECRET_NAME"] == "dojo-scheduler/dev/stripe", name
        assert env["FRONTEND_HOST"] and env["PLATFORM_FEE_PERCENT"] == "0", name
        assert env["REFUND_WINDOW_HOURS"] == "24", name
    for name in set(HANDLERS) - STRIPE_FUNCTIONS - settings_only:
        env = functions[logical_id(name)]["Properties"]["Environment"]["Variables"]
        assert "STRIPE_SECRET_NAME" not in env, name
    # The secret's name only: no key in the template, nor a secret resource holding one.
    template = dev.template_path.read_text()
    assert "sk_live" not in template and "sk_test" not in template and "whsec_" not in template
    assert not dev.of_type("AWS::SecretsManager::Secret")


def test_only_the_functions_that_talk_to_stripe_carry_it(simple: Package, dev: Package):
    for package in (simple, dev):
        for name in handlers_of(package):
            with zipfile.ZipFile(package.path / f"{name}.zip") as zf:
                names = set(zf.namelist())
            carries = "stripe/__init__.py" in names
            assert carries == (package is dev and name in STRIPE_FUNCTIONS), (package.stage, name)
            if carries:  # compiled like the rest (compile-pyc runs after stage-features)
                assert "stripe/__pycache__/__init__.cpython-312.pyc" in names, name
                # stripe's HTTP client, requests, comes from the requests layer.
                assert "python/requests/__init__.py" in layer_files(package, name), name
                assert not [n for n in names if n.startswith("requests")], name


# --- membership (the club's shop) ----------------------------------------------------------


def test_membership_only_where_the_stage_has_it(simple: Package, dev: Package, prod: Package):
    text = simple.template_path.read_text()
    for word in ("SHOP_SECRET_NAME", "SHOP_URL", "/shop", "/user/access", "GetUserAccess"):
        assert word not in text, word

    for package in (dev, prod):
        functions = package.of_type("AWS::Lambda::Function")
        for name in handlers_of(package):
            env = functions[logical_id(name)]["Properties"]["Environment"]["Variables"]
            if name in MEMBERSHIP_FUNCTIONS:
                assert env["SHOP_SECRET_NAME"] == f"dojo-scheduler/{package.stage}/shop"
                assert env["SHOP_URL"] == "https://chessdojo.shop", name
            else:
                assert "SHOP_SECRET_NAME" not in env and "SHOP_URL" not in env, name
        # Who may read the shop's key: exactly the functions that ask the shop.
        readers = {
            name
            for name in handlers_of(package)
            for statement in role_statements(
                package.resources[ref_name(functions[logical_id(name)]["Properties"]["Role"])]
            )
            if statement["Resource"] == [secret_arn(package.stage, "shop")]
        }
        assert readers == SHOP_FUNCTIONS, package.stage
        assert "wixApiKey" not in package.template_path.read_text()


def test_only_the_functions_that_ask_the_shop_carry_its_client(simple: Package, dev: Package):
    for package in (simple, dev):
        for name in handlers_of(package):
            with zipfile.ZipFile(package.path / f"{name}.zip") as zf:
                names = set(zf.namelist())
            assert ("membership/shop.py" in names) == (name in SHOP_FUNCTIONS), (package, name)
            if name in MEMBERSHIP_FUNCTIONS:  # the rule, on every stage (off without a shop)
                assert "membership/settings.py" in names, (package.stage, name)
                assert "membership/__pycache__/settings.cpython-312.pyc" in names, name


# --- Cognito's mail through SES ---------------------------------------------------------------


def test_prod_sends_cognitos_mail_through_ses(prod: Package):
    pool = prod.resources["CognitoUserPool"]["Properties"]
    assert pool["EmailConfiguration"] == {
        "EmailSendingAccount": "DEVELOPER",
        "SourceArn": SES_IDENTITY_ARN,
        "From": "ChessDojo <no-reply@chessdojo.club>",
    }
    template = pool["VerificationMessageTemplate"]
    assert template["DefaultEmailOption"] == "CONFIRM_WITH_CODE"
    assert "ChessDojo" in template["EmailSubject"]
    message = template["EmailMessage"]
    assert "{####}" in message and "ChessDojo" in message
    assert stage_settings("prod")["frontendHost"] in message  # names the site


def test_simple_and_dev_keep_cognitos_sender(simple: Package, dev: Package):
    for package in (simple, dev):
        pool = package.resources["CognitoUserPool"]["Properties"]
        assert pool["EmailConfiguration"] == {"EmailSendingAccount": "COGNITO_DEFAULT"}
        # A custom text needs SES (Cognito's API refuses one with its own sender).
        assert "VerificationMessageTemplate" not in pool, package.stage
        assert not [n for n in package.of_type("AWS::CloudWatch::Alarm") if n.startswith("Ses")]


def test_ses_reputation_alarms_at_ses_review_thresholds(prod: Package):
    alarms = prod.of_type("AWS::CloudWatch::Alarm")
    expected = {
        "SesBounceRateAlarm": ("Reputation.BounceRate", 0.05),
        "SesComplaintRateAlarm": ("Reputation.ComplaintRate", 0.001),
    }
    for name, (metric, threshold) in expected.items():
        props = alarms[name]["Properties"]
        assert (props["Namespace"], props["MetricName"]) == ("AWS/SES", metric)
        assert props["Threshold"] == threshold
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_prod_checks_daily_that_ses_is_out_of_the_sandbox(simple: Package, prod: Package):
    assert logical_id("checkSesAccount") not in simple.resources
    function = prod.resources[logical_id("checkSesAccount")]
    rules = [
        rule["Properties"]
        for rule in prod.of_type("AWS::Events::Rule").values()
        if ref_name(rule["Properties"]["Targets"][0]["Arn"]) == logical_id("checkSesAccount")
    ]
    assert [rule["ScheduleExpression"] for rule in rules] == ["rate(1 day)"]
    # A failed run is the flag: the function's errors alarm e-mails the operator.
    errors = prod.resources["CheckSesAccountErrorsAlarm"]["Properties"]
    assert errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": logical_id("checkSesAccount")}}
    ]
    # Raised until a run succeeds: one day's errors (the run's period), and between two runs,
    # without data, the state the last run left (not OK five minutes after a failed run).
    assert (errors["Period"], errors["EvaluationPeriods"]) == (86400, 1)
    assert (errors["Statistic"], errors["Threshold"]) == ("Sum", 1)
    assert errors["TreatMissingData"] == "ignore"
    # Every other function's errors: five minutes, no traffic is no alarm.
    other = prod.resources["CreateUserErrorsAlarm"]["Properties"]
    assert (other["Period"], other["TreatMissingData"]) == (300, "notBreaching")
    statements = [
        s
        for s in role_statements(prod.resources[ref_name(function["Properties"]["Role"])])
        if not all(a.startswith("logs:") for a in as_list(s["Action"]))
    ]
    assert statements == [{"Effect": "Allow", "Action": ["ses:GetAccount"], "Resource": "*"}]


def package_failure(
    stage: str, workdir: Path, env: dict[str, str], files: dict[str, str | None] | None = None
) -> str:
    """The output of an `sls package` that must fail (it stops before packaging anything). The
    secret files are dev's and prod's, with `files` over them (None: no such file)."""
    service = workdir / "service"
    shutil.copytree(ROOT, service, ignore=NOT_COPIED, symlinks=True)
    (service / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    for name, text in {"oauth.yml": DUMMY_OAUTH, "wix.yml": DUMMY_WIX, **(files or {})}.items():
        if text is not None:
            (service / name).write_text(text)
    proc = subprocess.run(
        [shutil.which("npx"), "--no-install", "sls", "package", "--stage", stage],
        cwd=service,
        env={**clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode != 0, proc.stdout
    return proc.stdout + proc.stderr


def test_prod_cannot_be_packaged_with_cognitos_sender(tmp_path):
    output = package_failure("prod", tmp_path, {"ALARM_EMAIL": ALARM_EMAIL})
    assert "set sesIdentityArn and mailFrom in config/prod.yml" in output, output
    assert "50 emails a day" in output


def example(name: str) -> str:
    return (ROOT / f"{name}.example").read_text()


# A secret file as an operator may leave it -> what packaging dev must say (file and key).
HALF_FILLED = {
    "oauth.yml copied from its example": (
        {"oauth.yml": example("oauth.yml")},
        "oauth.yml: client_id is empty",
    ),
    "oauth.yml without its client secret": (
        {"oauth.yml": "client_id: 1234-abc.apps.googleusercontent.com\nclient_secret: ''\n"},
        "oauth.yml: client_secret is empty",
    ),
    "oauth.yml with a placeholder": (
        {"oauth.yml": f"client_id: <your client id>\nclient_secret: {DUMMY_GOOGLE_SECRET}\n"},
        "oauth.yml: client_id is a placeholder",
    ),
    "no oauth.yml": ({"oauth.yml": None}, "oauth.yml is missing"),
    "wix.yml copied from its example": (
        {"wix.yml": example("wix.yml")},
        "wix.yml: wixApiKey is empty",
    ),
    "no wix.yml": ({"wix.yml": None}, "wix.yml is missing"),
    "discord.yml with a placeholder": (
        {"discord.yml": "discordAuth: changeme\n"},
        "discord.yml: discordAuth is a placeholder",
    ),
    "tournament.yml with one value of two": (
        {"tournament.yml": "mongoConnectionString: mongodb+srv://x@y\nbotAccessToken: ''\n"},
        "tournament.yml: botAccessToken is empty",
    ),
    "tournament.yml with a placeholder": (
        {"tournament.yml": "mongoConnectionString: TODO\nbotAccessToken: TODO\n"},
        "tournament.yml: mongoConnectionString is a placeholder",
    ),
}


@pytest.mark.parametrize("files, message", HALF_FILLED.values(), ids=HALF_FILLED.keys())
def test_half_filled_secret_files_are_refused_at_packaging(tmp_path, files, message):
    """Not a deploy that CloudFormation fails half-way (Cognito refuses a Google provider with
    client_id ''), nor a stage quietly without its feature: the file and key to fix."""
    output = package_failure("dev", tmp_path, {"ALARM_EMAIL": ALARM_EMAIL}, files)
    assert message in output, output
    assert " at " not in output.split(message)[1].splitlines()[0]  # no stack trace


def secret_files_answer(tmp_path: Path, name: str, files: dict[str, str]) -> str:
    """config/secret-files.js's answer for `name`, with `files` beside it."""
    (tmp_path / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "secret-files.js", tmp_path / "config")
    for file, text in files.items():
        (tmp_path / file).write_text(text)
    script = f"process.stdout.write(require('./config/secret-files.js').{name}())"
    proc = subprocess.run(
        [shutil.which("node"), "-e", script],
        cwd=tmp_path,
        env={**clean_env(), "NODE_PATH": str(ROOT / "node_modules")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# Where the README says so, an empty or missing file is the feature off, not an error.
FEATURE_OFF = {
    "no discord.yml": ("discord", {}),
    "discord.yml copied from its example": ("discord", {"discord.yml": example("discord.yml")}),
    "no tournament.yml": ("tournaments", {}),
    "tournament.yml copied from its example": (
        "tournaments",
        {"tournament.yml": example("tournament.yml")},
    ),
}


@pytest.mark.parametrize("name, files", FEATURE_OFF.values(), ids=FEATURE_OFF.keys())
def test_empty_optional_secret_files_turn_their_feature_off(tmp_path, name, files):
    assert secret_files_answer(tmp_path, name, files) == "false"


def test_filled_optional_secret_files_turn_their_feature_on(tmp_path):
    tournament = "mongoConnectionString: mongodb+srv://x@y\nbotAccessToken: token-123\n"
    files = {"discord.yml": DUMMY_DISCORD, "tournament.yml": tournament}
    assert secret_files_answer(tmp_path / "discord", "discord", files) == "true"
    assert secret_files_answer(tmp_path / "tournament", "tournaments", files) == "true"


# --- cfn-lint -----------------------------------------------------------------------------

CFN_LINT_IGNORES = yaml.safe_load((ROOT / "config" / "cfn-lint-ignores.yml").read_text())


def cfn_lint_findings(package: Package) -> list[dict]:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    command = [str(cfn_lint)] if cfn_lint.exists() else [shutil.which("cfn-lint") or "cfn-lint"]
    proc = subprocess.run(
        [*command, "--format", "json", "--", str(package.template_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.stdout.strip(), f"cfn-lint gave no report:\n{proc.stderr}"
    return json.loads(proc.stdout)


def test_cfn_lint_ignores_carry_their_reasons():
    assert set(CFN_LINT_IGNORES) <= {"every", "simple", "dev", "prod"}
    for stage, rules in CFN_LINT_IGNORES.items():
        for rule, reason in rules.items():
            assert re.fullmatch(r"[WI]\d{4}", rule), f"{stage} {rule}: only warnings"
            assert isinstance(reason, str) and len(reason) > 40, f"{stage} {rule}: no reason"


def test_cfn_lint(any_stage: Package):
    """cfn-lint on the packaged template: no error, and no warning that
    config/cfn-lint-ignores.yml does not list with its reason for this stage; a listed one
    that no longer fires here fails too, so the list stays true."""
    findings = cfn_lint_findings(any_stage)
    ignored = {**CFN_LINT_IGNORES.get("every", {}), **CFN_LINT_IGNORES.get(any_stage.stage, {})}
    fired = {finding["Rule"]["Id"] for finding in findings}
    unexpected = [
        f"{f['Rule']['Id']} {f['Message']} ({'/'.join(map(str, f['Location']['Path'] or []))})"
        for f in findings
        if f["Level"] == "Error" or f["Rule"]["Id"] not in ignored
    ]
    assert not unexpected, "\n".join(unexpected)
    assert set(ignored) <= fired, f"listed but not raised on {any_stage.stage}: remove them"


# --- what the full stages protect, and who is told (config/plugins/operations.js) ---------


def test_full_stages_keep_their_data(full: Package):
    tables = full.of_type("AWS::DynamoDB::Table")
    pools = full.of_type("AWS::Cognito::UserPool")
    # The messages set aside and what happened: kept like the tables.
    queues = full.of_type("AWS::SQS::Queue")
    log_groups = full.of_type("AWS::Logs::LogGroup")
    assert set(tables) >= {USERS, AVAILABILITIES, MEETINGS}
    assert pools
    assert set(queues) >= {"StatisticsDeadLetterQueue", REFUND_DEAD_LETTERS}
    assert logical_id("createUser").replace("LambdaFunction", "LogGroup") in log_groups
    assert "HttpApiLogGroup" in log_groups
    for name, resource in {**tables, **pools, **queues, **log_groups}.items():
        assert resource["DeletionPolicy"] == "Retain", name
        assert resource["UpdateReplacePolicy"] == "Retain", name
    for name, table in tables.items():
        props = table["Properties"]
        assert props["DeletionProtectionEnabled"] is True, name
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    for pool in pools.values():
        assert pool["Properties"]["DeletionProtection"] == "ACTIVE"


def test_simple_can_be_removed_cleanly(simple: Package):
    """`sls remove --stage simple` deletes everything: nothing retained or protected, and
    nothing that a new account's limits (concurrency 10) or an unconfirmed e-mail would block."""
    for name, resource in simple.resources.items():
        assert resource.get("DeletionPolicy", "Delete") == "Delete", name
        assert resource.get("UpdateReplacePolicy", "Delete") == "Delete", name
        props = resource.get("Properties", {})
        assert props.get("DeletionProtectionEnabled", False) is False, name
        assert props.get("DeletionProtection", "INACTIVE") == "INACTIVE", name
    for name, table in simple.of_type("AWS::DynamoDB::Table").items():
        recovery = table["Properties"]["PointInTimeRecoverySpecification"]
        assert recovery == {"PointInTimeRecoveryEnabled": False}, name
    for name, function in simple.of_type("AWS::Lambda::Function").items():
        assert "ReservedConcurrentExecutions" not in function["Properties"], name
    assert not simple.of_type("AWS::CloudWatch::Alarm")
    assert not simple.of_type("AWS::SNS::Topic")


CORS_ORIGINS = {
    "simple": {"*"},
    "dev": {stage_settings("dev")["frontendHost"], "http://localhost:3000"},
    "prod": {"https://www.chessdojo.club"},
}


def test_cors_allows_the_stages_frontend(any_stage: Package):
    """dev and prod answer their frontend's pages (dev also the local frontend's); simple any."""
    (api,) = any_stage.of_type("AWS::ApiGatewayV2::Api").values()
    cors = api["Properties"]["CorsConfiguration"]
    assert set(cors["AllowOrigins"]) == CORS_ORIGINS[any_stage.stage]
    if any_stage.stage == "prod":
        assert cors["AllowOrigins"] == [stage_settings("prod")["frontendHost"]]
    assert "Authorization" in cors["AllowHeaders"]  # the JWT
    assert {"GET", "PUT", "DELETE", "OPTIONS"} <= set(cors["AllowMethods"])
    assert not cors.get("AllowCredentials")  # a bearer token, no cookie


def test_api_throttling_comes_from_the_stage_settings(any_stage: Package):
    settings = stage_settings(any_stage.stage)
    (stage,) = any_stage.of_type("AWS::ApiGatewayV2::Stage").values()
    route = stage["Properties"]["DefaultRouteSettings"]
    assert route["ThrottlingRateLimit"] == settings["throttleRate"] > 0
    assert route["ThrottlingBurstLimit"] == settings["throttleBurst"] >= settings["throttleRate"]


def test_the_calendar_feed_has_a_throttle_of_its_own(any_stage: Package):
    """Open to anyone holding (or guessing at) an address, polled hours apart by calendar apps:
    its route's limit (feedThrottleRate/feedThrottleBurst, else 10 and 20) is its own, never
    above the stage's (prod: a fifth of it; dev and simple: the same)."""
    settings = stage_settings(any_stage.stage)
    (stage,) = any_stage.of_type("AWS::ApiGatewayV2::Stage").values()
    feed = stage["Properties"]["RouteSettings"]["GET /public/calendar-feed/{file}"]
    assert feed["ThrottlingRateLimit"] == settings.get("feedThrottleRate", 10)
    assert feed["ThrottlingBurstLimit"] == settings.get("feedThrottleBurst", 20)
    assert 0 < feed["ThrottlingRateLimit"] <= feed["ThrottlingBurstLimit"]
    assert feed["ThrottlingRateLimit"] <= settings["throttleRate"]
    assert feed["ThrottlingBurstLimit"] <= settings["throttleBurst"]


def test_no_stage_reserves_concurrency_as_shipped(any_stage: Package):
    """A reservation must fit the account's concurrency quota, which a new account has far
    below 1,000 and packaging cannot see: every stage deploys without one, bounded by the API's
    throttling; `reservedConcurrency` in config/<stage>.yml turns it on (see the next test)."""
    assert stage_settings(any_stage.stage)["reservedConcurrency"] == 0
    for name, function in any_stage.of_type("AWS::Lambda::Function").items():
        assert "ReservedConcurrentExecutions" not in function["Properties"], name


ACCESS_LOG = {
    "requestId": "$context.requestId",
    "route": "$context.routeKey",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "sub": "$context.authorizer.claims.sub",
}


def test_access_logs_are_json_lines_without_credentials(any_stage: Package):
    (stage,) = any_stage.of_type("AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    line = json.loads(settings["Format"])
    assert ACCESS_LOG.items() <= line.items()
    for field, value in line.items():
        # Only the caller's sub among the claims; no header, token or identity (source IP...).
        assert value.startswith("$context."), field
        assert not re.search(r"header|token|identity|claims(?!\.sub$)", value, re.I), field
    log_group = any_stage.resources[ref_name(settings["DestinationArn"])]
    assert log_group["Properties"]["RetentionInDays"] > 0


def test_every_log_group_has_a_retention_period(any_stage: Package):
    groups = any_stage.of_type("AWS::Logs::LogGroup")
    for name in any_stage.of_type("AWS::Lambda::Function"):
        assert name.replace("LambdaFunction", "LogGroup") in groups, name
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] > 0, name


def test_deployment_bucket_is_encrypted_and_not_public(any_stage: Package):
    for template in ("create", "update"):
        path = any_stage.path / f"cloudformation-template-{template}-stack.json"
        bucket = json.loads(path.read_text())["Resources"]["ServerlessDeploymentBucket"]
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, template
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}


def watched_metrics(alarm: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, plain or metric math."""
    props = alarm["Properties"]
    metrics = (
        [props]
        if "MetricName" in props
        else [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
    )
    return [
        (m["Namespace"], m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]})
        for m in metrics
    ]


def test_full_stages_alarm_one_topic_by_email(full: Package):
    assert list(full.of_type("AWS::SNS::Topic")) == ["AlarmTopic"]
    subscriptions = [s["Properties"] for s in full.of_type("AWS::SNS::Subscription").values()]
    assert subscriptions == [
        {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": ALARM_EMAIL}
    ]
    alarms = full.of_type("AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["AlarmName"].startswith(f"dojo-scheduler-{full.stage} "), name
        assert len(props["AlarmDescription"]) > 40, name
        # No data (no traffic) is no alarm; a daily check's holds its state between runs.
        daily = name == "CheckSesAccountErrorsAlarm"
        assert props["TreatMissingData"] == ("ignore" if daily else "notBreaching"), name
        if "Metrics" in props:  # metric math: exactly one result, the compared one
            results = [m for m in props["Metrics"] if m.get("ReturnData", True)]
            assert len(results) == 1, name


def test_every_function_has_error_and_throttle_alarms(full: Package):
    watched = {}
    for alarm in full.of_type("AWS::CloudWatch::Alarm").values():
        for namespace, metric, dimensions in watched_metrics(alarm):
            if namespace == "AWS/Lambda":
                watched[metric, ref_name(dimensions["FunctionName"])] = alarm["Properties"]
    functions = full.of_type("AWS::Lambda::Function")
    assert set(functions) >= {logical_id(f) for f in HANDLERS}
    for function in functions:
        for metric in ("Errors", "Throttles"):
            props = watched[metric, function]
            assert props["Statistic"] == "Sum" and props["Threshold"] == 1, (metric, function)
            assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_payments_functions_alarm_on_their_error_logs(full: Package):
    """A refund Stripe failed, a payment the reconciliation could not settle for 30 minutes:
    each an ERROR line in a payments function's log (tests/handlers/test_payments.py), each
    alarmed."""
    alarms = full.of_type("AWS::CloudWatch::Alarm")
    filters = full.of_type("AWS::Logs::MetricFilter")
    for function in ("stripeWebhook", "refundPayments", "reconcilePayments"):
        name = function[0].upper() + function[1:]
        props = filters[f"{name}ErrorLogsMetricFilter"]["Properties"]
        assert props["LogGroupName"] == {"Ref": f"{name}LogGroup"}
        assert props["FilterPattern"] == '{ $.level = "ERROR" }'
        [counted] = props["MetricTransformations"]
        alarm = alarms[f"{name}ErrorLogsAlarm"]["Properties"]
        assert alarm["Namespace"] == counted["MetricNamespace"]
        assert alarm["MetricName"] == counted["MetricName"]
        assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)


def test_alarms_on_conditional_resources_share_their_condition(full: Package):
    # The notify function and its dead-letter queue exist only with a Discord bot token (dev
    # is packaged with one): so do their alarms, else CloudFormation refuses the template.
    alarms = full.of_type("AWS::CloudWatch::Alarm")
    for name in ("NotifyErrorsAlarm", "NotifyThrottlesAlarm"):
        assert alarms[name]["Condition"] == "Notifications"
    dead_letters = alarms["NotificationsDeadLetterQueueMessagesAlarm"]
    assert dead_letters["Condition"] == "Notifications"
    assert dead_letters["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    effective = full.effective()
    assert ("NotifyErrorsAlarm" in effective) == (full.stage == "dev")
    assert ("NotificationsDeadLetterQueueMessagesAlarm" in effective) == (full.stage == "dev")


def test_api_5xx_rate_alarm(full: Package):
    (alarm,) = [
        a["Properties"]
        for a in full.of_type("AWS::CloudWatch::Alarm").values()
        if any(ns == "AWS/ApiGateway" for ns, _, _ in watched_metrics(a))
    ]
    by_metric = {
        m["MetricStat"]["Metric"]["MetricName"]: m for m in alarm["Metrics"] if "MetricStat" in m
    }
    assert set(by_metric) == {"5xx", "Count"}
    for metric in by_metric.values():
        assert metric["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "ApiId", "Value": {"Ref": "HttpApi"}}
        ]
        assert metric["MetricStat"]["Stat"] == "Sum"
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    errors, requests = by_metric["5xx"]["Id"], by_metric["Count"]["Id"]
    assert expression["Expression"] == f"100 * {errors} / {requests}"
    assert 0 < alarm["Threshold"] <= 10  # percent


def test_every_table_and_index_has_a_throttle_alarm(full: Package):
    watched = set()
    for alarm in full.of_type("AWS::CloudWatch::Alarm").values():
        metrics = watched_metrics(alarm)
        for namespace, metric, dimensions in metrics:
            if namespace == "AWS/DynamoDB":
                index = dimensions.get("GlobalSecondaryIndexName")
                watched.add((metric, ref_name(dimensions["TableName"]), index))
    for name, table in full.of_type("AWS::DynamoDB::Table").items():
        indexes = [i["IndexName"] for i in table["Properties"].get("GlobalSecondaryIndexes", [])]
        for index in [None, *indexes]:
            for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
                assert (metric, name, index) in watched, (metric, name, index)


def test_new_functions_and_dead_letter_queues_are_covered(tmp_path):
    """A function added to serverless.yml gets its alarms and the stage's reserved concurrency
    (set here: 3), and a queue listed in custom.operations.deadLetterQueues its alarm, without
    any other edit."""
    document = yaml.safe_load((ROOT / "serverless.yml").read_text())
    probe = {k: v for k, v in document["functions"]["getUser"].items() if k != "events"}
    document["functions"]["probe"] = probe
    document["resources"]["Resources"]["ProbeDeadLetterQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"SqsManagedSseEnabled": True},
    }
    document["custom"]["operations"]["deadLetterQueues"] = ["ProbeDeadLetterQueue"]
    serverless_yml = yaml.safe_dump(document, sort_keys=False)
    dev_yml = (ROOT / "config" / "dev.yml").read_text()
    assert "\nreservedConcurrency: 0\n" in dev_yml
    dev_yml = dev_yml.replace("\nreservedConcurrency: 0\n", "\nreservedConcurrency: 3\n")
    files = {"serverless.yml": serverless_yml, "config/dev.yml": dev_yml}
    package = full_stage("dev", tmp_path, files)

    for name, function in package.of_type("AWS::Lambda::Function").items():
        assert function["Properties"]["ReservedConcurrentExecutions"] == 3, name
    assert "ProbeLambdaFunction" in package.of_type("AWS::Lambda::Function")
    metrics = [
        (namespace, metric, dimensions)
        for alarm in package.of_type("AWS::CloudWatch::Alarm").values()
        for namespace, metric, dimensions in watched_metrics(alarm)
    ]
    probe_dimensions = {"FunctionName": {"Ref": "ProbeLambdaFunction"}}
    assert ("AWS/Lambda", "Errors", probe_dimensions) in metrics
    assert ("AWS/Lambda", "Throttles", probe_dimensions) in metrics
    queue = {"QueueName": {"Fn::GetAtt": ["ProbeDeadLetterQueue", "QueueName"]}}
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue) in metrics


# --- checkov: the packaged templates as a security reviewer scans them -------------------

CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"  # make test installs it there
CHECKOV_SKIPS = yaml.safe_load((ROOT / "config" / "checkov-skips.yml").read_text())


def checkov_failures(package: Package) -> dict[str, set[str]]:
    """Failed check id -> the resources failing it."""
    assert CHECKOV.exists(), "checkov is installed by `make test` (requirements-checkov.txt)"
    proc = subprocess.run(
        [
            str(CHECKOV),
            "--file",
            str(package.template_path),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--skip-download",  # offline: no policies or guidelines from the vendor's API
        ],
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    print(f"\ncheckov {package.stage}: {report['summary']}")
    failures: dict[str, set[str]] = {}
    for check in report["results"]["failed_checks"]:
        failures.setdefault(check["check_id"], set()).add(check["resource"])
    return failures


def test_checkov_skips_carry_their_reasons():
    assert set(CHECKOV_SKIPS) <= {"every", "simple", "dev", "prod"}
    for stage, skips in CHECKOV_SKIPS.items():
        for check, reason in skips.items():
            assert re.fullmatch(r"CKV2?_AWS_\d+", check), (stage, check)
            assert isinstance(reason, str) and len(reason.split()) >= 8, (stage, check)


def test_checkov(any_stage: Package):
    """Any failed check not in config/checkov-skips.yml fails, and so does a skipped check
    that passes (its entry is out of date)."""
    skips = {**CHECKOV_SKIPS["every"], **CHECKOV_SKIPS.get(any_stage.stage, {})}
    failures = checkov_failures(any_stage)
    unexpected = {check: sorted(failures[check]) for check in set(failures) - set(skips)}
    assert not unexpected, f"fix, or skip with a reason in config/checkov-skips.yml: {unexpected}"
    assert not set(skips) - set(failures), "passing now: remove from config/checkov-skips.yml"


# --- zips -----------------------------------------------------------------------------------


def test_zips(simple: Package):
    for name, handler in HANDLERS.items():
        path = simple.path / f"{name}.zip"

        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            module = handler.rsplit(".", 1)[0]
            source = f"{module}.py"
            assert source in names, name
            assert "api/__init__.py" in names and "database/__init__.py" in names, name
            # Only this function's handler, nothing else of the repo.
            handler_files = {n for n in names if n.startswith("handlers/") and n.endswith(".py")}
            assert {n for n in handler_files if not n.endswith("__init__.py")} == {source}
            # notifications/ (the Discord client) is the notify function's alone.
            for prefix in (
                "tests/",
                "local/",
                "node_modules/",
                "config/",
                "bench/",
                ".venv/",
                "notifications/",
            ):
                assert not [n for n in names if n.startswith(prefix)], (name, prefix)
            # The runtime ships botocore; pydantic is in no function (database/models.py: msgspec).
            assert not [n for n in names if n.startswith(("boto3/", "botocore/"))], name
            assert not [n for n in names if n.startswith(("pydantic/", "pydantic_core/"))], name

            # Any compiled dependency must be built for the Lambda runtime: CPython 3.12, arm64.
            for so in (n for n in names if n.endswith(".so")):
                assert "aarch64" in so and "312" in so, so

            # Bytecode for 3.12, hash-checked (the zip dates are fixed, /var/task read-only).
            pyc = f"{module.rpartition('/')[0]}/__pycache__/{module.rpartition('/')[2]}"
            pyc += ".cpython-312.pyc"
            assert pyc in names, name
            assert "aws_lambda_powertools/__pycache__/__init__.cpython-312.pyc" in names, name
            header = zf.read(pyc)[:8]
            assert header[:4] == PY312_MAGIC, name
            assert int.from_bytes(header[4:8], "little") == 0b11, "checked-hash pyc"
            stray = [n for n in names if n.endswith(".pyc") and ".cpython-312." not in n]
            assert not stray, stray[:5]


# --- lean zips: only what each function's imports reach ---------------------------------


def function_zips(package: Package) -> dict[str, Path]:
    return {
        path.stem: path for path in package.path.glob("*.zip") if not path.stem.endswith("Layer")
    }


def layers_of(package: Package, function: str) -> list[Path]:
    """The zips of the layers the function's template lists (its `requirementLayers`)."""
    properties = package.resources[logical_id(function)]["Properties"]
    paths = []
    for layer in properties.get("Layers", []):
        key = package.resources[ref_name(layer)]["Properties"]["Content"]["S3Key"]
        paths.append(package.path / key.rpartition("/")[2])
    return paths


def layer_files(package: Package, function: str) -> set[str]:
    names: set[str] = set()
    for path in layers_of(package, function):
        with zipfile.ZipFile(path) as zf:
            names |= set(zf.namelist())
    return names


def test_zip_sizes_and_layers(any_stage: Package):
    layers = sorted(any_stage.path.glob("*Layer.zip"))
    for path in layers:  # each counted once, whatever uses it
        print(f"{any_stage.stage} layer {path.name}: {path.stat().st_size / 1e6:.2f} MB")
    for name, path in sorted(function_zips(any_stage).items()):
        size = path.stat().st_size
        with zipfile.ZipFile(path) as zf:
            stripe = "stripe/__init__.py" in zf.namelist()
        print(f"{any_stage.stage} {name}.zip: {size / 1e6:.2f} MB")
        limit = MAX_STRIPE_ZIP_BYTES if stripe else MAX_ZIP_BYTES
        assert size <= limit, f"{any_stage.stage}: {name}.zip is {size} bytes"
    # The requests layer exists where a function that imports requests does (notify where
    # notifications are on, the Stripe functions where payments are, the functions that ask the
    # club's shop where membership is), and only they list it.
    effective = any_stage.effective()
    users = {
        name
        for name in function_zips(any_stage)
        if logical_id(name) in effective and layers_of(any_stage, name)
    }
    expected = {"notify"} if any_stage.stage == "dev" else set()
    expected |= STRIPE_FUNCTIONS | SHOP_FUNCTIONS if any_stage.stage != "simple" else set()
    # contract v4: the tzdata layer, and the calendar feed's icalendar layer, on every stage
    assert users == expected | ZONE_FUNCTIONS | {"getCalendarFeed"}
    assert ("RequestsLambdaLayer" in effective) == bool(expected)
    assert "TzdataLambdaLayer" in effective
    for path in layers:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
        assert all(name.startswith("python/") for name in names)  # /opt/python on Lambda
        assert {
            "python/requests/__pycache__/__init__.cpython-312.pyc",
            "python/tzdata/__pycache__/__init__.cpython-312.pyc",
        } & names, path.name


# Provided by the Lambda runtime (boto3 and what it requires), never in a zip of ours.
RUNTIME = ("boto3", "botocore", "s3transfer", "urllib3", "jmespath", "dateutil", "six")


# Prints, as JSON, the file of every loaded module that is not the standard library's,
# relative to its site-packages or to the repository (as a zip holds it).
LOADED_FILES = """
import json, sys
from pathlib import Path
here, files = Path.cwd().resolve(), []
for module in list(sys.modules.values()):
    file = getattr(module, "__file__", None)
    if not file:
        continue
    file = Path(file).resolve()
    if "site-packages" in file.parts:
        files.append("/".join(file.parts[file.parts.index("site-packages") + 1 :]))
    elif here in file.parents:
        files.append(str(file.relative_to(here)))
print(json.dumps(files))
"""


def modules_loaded_by(function: str, package: Package) -> set[str]:
    """Files (relative to their sys.path entry) of every module the function's handler loads
    in a fresh interpreter, with the payment code the Stripe functions load on a priced path."""
    module = package.resources[logical_id(function)]["Properties"]["Handler"]
    module = module.rpartition(".")[0].replace("/", ".")
    paid = function in STRIPE_FUNCTIONS and package.stage != "simple"
    extra = ["payments.stripe_client"] if paid else []
    code = f"import importlib\nfor name in {[module, *extra]!r}: importlib.import_module(name)\n"
    # Not what the runtime's botocore loads anyway (certifi only if it finds one).
    return loaded_files(code) - loaded_files("import botocore.httpsession\n")


def loaded_files(code: str) -> set[str]:
    code += LOADED_FILES
    env = {
        "PATH": os.environ.get("PATH", ""),
        "USERS_TABLE": "t",
        "AVAILABILITIES_TABLE": "t",
        "MEETINGS_TABLE": "t",
        "NOTIFICATIONS_TABLE": "t",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_every_module_a_handler_imports_is_in_its_zip_or_layers(any_stage: Package):
    for name, path in sorted(function_zips(any_stage).items()):
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
        names |= {n.removeprefix("python/") for n in layer_files(any_stage, name)}
        missing = []
        for file in sorted(modules_loaded_by(name, any_stage)):
            if file.split("/")[0].split(".")[0] in RUNTIME:
                continue
            if file.endswith(".so"):  # built for this machine; the zip's for Lambda (arm64)
                stem = file.split(".")[0]
                found = any(n.startswith(f"{stem}.") and n.endswith(".so") for n in names)
            else:
                found = file in names
            if not found:
                missing.append(file)
        assert not missing, f"{any_stage.stage} {name}: {missing[:10]}"
