"""`sls package` of a stage with tournaments (dev with a filled tournament.yml): the tournament
functions, routes, table, schedule, exact grants and the secret, and pymongo only in the monthly
job's zip. Without tournament.yml (tests/infra/test_packaging.py's dev, and simple) none of it
exists.
"""

from __future__ import annotations

import zipfile

import grants
import pytest
from grants import as_list, ref_name, role_statements
from test_packaging import Package, features_of, full_stage, logical_id

DUMMY_TOURNAMENT = (
    "mongoConnectionString: mongodb+srv://bot:dummy-password@cluster.example.net\n"
    "botAccessToken: dummy-bot-access-token\n"
)
TABLE = "TournamentsTable"
INDEX = f"{TABLE}/index/StartTimeIndex"
FUNCTIONS = {
    "createTournament": "handlers/tournaments/create.handler",
    "listTournaments": "handlers/tournaments/list.handler",
    "updateLeaderboard": "handlers/tournaments/update_leaderboard.handler",
    "getLeaderboard": "handlers/tournaments/get_leaderboard.handler",
    "snapshotLeaderboards": "handlers/tournaments/snapshot.handler",
}
ROUTES = {  # route -> function; none has the JWT authorizer
    "POST /tournaments": "createTournament",
    "GET /public/tournaments": "listTournaments",
    "POST /tournaments/leaderboard": "updateLeaderboard",
    "GET /public/tournaments/leaderboard": "getLeaderboard",
}
READS_SECRET = {"createTournament", "updateLeaderboard", "snapshotLeaderboards"}


@pytest.fixture(scope="module")
def tournaments(tmp_path_factory) -> Package:
    workdir = tmp_path_factory.mktemp("sls-dev-tournaments")
    return full_stage("dev", workdir, {"tournament.yml": DUMMY_TOURNAMENT})


def secret_arn(stage: str) -> dict:
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
                f":secret:dojo-scheduler/{stage}/tournament-??????",
            ],
        ]
    }


def test_functions_table_and_schedule(tournaments: Package):
    effective = tournaments.effective()
    for name, handler in FUNCTIONS.items():
        props = effective[logical_id(name)]["Properties"]
        assert props["Handler"] == handler
        env = props["Environment"]["Variables"]
        assert env["TOURNAMENTS_TABLE"] == {"Ref": TABLE}, name
        assert ("TOURNAMENT_SECRET_NAME" in env) == (name in READS_SECRET), name
        if name in READS_SECRET:
            assert env["TOURNAMENT_SECRET_NAME"] == "dojo-scheduler/dev/tournament"
    calendar = effective[logical_id("getCalendar")]["Properties"]["Environment"]["Variables"]
    assert calendar["TOURNAMENTS_TABLE"] == {"Ref": TABLE}
    assert "TOURNAMENT_SECRET_NAME" not in calendar

    table = effective[TABLE]["Properties"]
    assert table["TableName"] == "dev-tournaments"
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "StartTimeIndex"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expirationTime", "Enabled": True}

    rules = tournaments.effective_of_type("AWS::Events::Rule")
    (rule,) = [r["Properties"] for r in rules.values() if "cron(0 0 1 * ? *)" in str(r)]
    assert rule["ScheduleExpression"] == "cron(0 0 1 * ? *)"
    assert ref_name(rule["Targets"][0]["Arn"]) == logical_id("snapshotLeaderboards")


def test_routes_need_no_jwt(tournaments: Package):
    routes = tournaments.of_type("AWS::ApiGatewayV2::Route")
    by_key = {r["Properties"]["RouteKey"]: r["Properties"] for r in routes.values()}
    for key in ROUTES:
        assert by_key[key].get("AuthorizationType", "NONE") == "NONE", key


def test_exact_grants_and_only_their_secret(tournaments: Package):
    """Every function's role is the grants pin (tests/infra/grants.json) for dev with
    tournaments: the tournament functions' own, and what tournaments add to getCalendar."""
    functions = tournaments.of_type("AWS::Lambda::Function")
    roles = tournaments.of_type("AWS::IAM::Role")
    assert "tournaments" in features_of(tournaments)
    expected = grants.expected(features_of(tournaments))
    assert ("Query", INDEX) in expected["getCalendar"]
    for name in tournaments.service.functions:
        role = roles[ref_name(functions[logical_id(name)]["Properties"]["Role"])]
        assert grants.grants_of_role(role) == expected.get(name, set()), name
    for name in FUNCTIONS:
        role = roles[ref_name(functions[logical_id(name)]["Properties"]["Role"])]
        secrets = []
        for statement in role_statements(role):
            for action in as_list(statement["Action"]):
                if action.startswith("secretsmanager:"):
                    assert action == "secretsmanager:GetSecretValue"
                    secrets += as_list(statement["Resource"])
        assert secrets == ([secret_arn("dev")] if name in READS_SECRET else []), name
    # No other function may read the tournament secret.
    for role_id, role in roles.items():
        if "tournament-??????" in str(role):
            owners = [
                n
                for n in READS_SECRET
                if ref_name(functions[logical_id(n)]["Properties"]["Role"]) == role_id
            ]
            assert owners, role_id


def test_no_value_of_tournament_yml_in_the_template(tournaments: Package):
    text = tournaments.template_path.read_text()
    for value in ("dummy-bot-access-token", "dummy-password", "mongodb+srv"):
        assert value not in text
    for state in tournaments.path.glob("*.json"):
        assert "dummy-bot-access-token" not in state.read_text(), state.name


def test_pymongo_only_in_the_monthly_jobs_zip(tournaments: Package):
    for name in [*FUNCTIONS, "getCalendar", "bookAvailability"]:
        with zipfile.ZipFile(tournaments.path / f"{name}.zip") as zf:
            names = set(zf.namelist())
        assert ("pymongo/__init__.py" in names) == (name == "snapshotLeaderboards"), name
        if name == "snapshotLeaderboards":
            assert "pymongo/__pycache__/__init__.cpython-312.pyc" in names
            assert "tournaments/mongo.py" in names and "tournaments/sites.py" not in names
        if name == "createTournament":
            assert {"tournaments/sites.py", "handlers/tournaments/create.py"} <= names
        # The bot's token check, and the secret, in the bot's functions only.
        bot = name in ("createTournament", "updateLeaderboard")
        assert ("api/bot.py" in names) == bot, name
        assert ("tournaments/secret.py" in names) == (bot or name == "snapshotLeaderboards")
