"""The local IAM: the policy evaluator (local/iam.py), the requests AWS makes for each call,
the roles the framework builds from serverless.yml, and that the handler tests cannot escape
them."""

import copy
import json

import boto3
import pytest
import roles
from botocore.exceptions import ClientError
from test_packaging import SHOP_FUNCTIONS, STRIPE_FUNCTIONS

from api.secrets import stage_secret
from handlers.availability import book
from handlers.availability import set as set_availability
from local import iam
from local.serverless import Service
from support import SERVICE, add_user, availability, http_event

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/test-users"


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_an_allow_must_match_action_and_resource():
    statements = [allow(["dynamodb:GetItem"], [TABLE])]
    assert iam.decision(statements, iam.Request("dynamodb:GetItem", TABLE)) == "Allow"
    assert iam.decision(statements, iam.Request("dynamodb:PutItem", TABLE)) == "ImplicitDeny"
    assert iam.decision(statements, iam.Request("dynamodb:GetItem", TABLE + "2")) == "ImplicitDeny"
    # An index is its own resource: the table's ARN does not grant it.
    index = iam.Request("dynamodb:Query", TABLE + "/index/SearchIndex")
    assert iam.decision([allow("dynamodb:Query", TABLE)], index) == "ImplicitDeny"
    assert iam.decision([allow("dynamodb:Query", TABLE + "/index/*")], index) == "Allow"


def test_wildcards_and_a_deny_that_wins():
    statements = [
        allow("dynamodb:*Item", "arn:aws:dynamodb:*:*:table/test-*"),
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
    ]
    assert iam.decision(statements, iam.Request("DynamoDB:getitem", TABLE)) == "Allow"
    assert iam.decision(statements, iam.Request("dynamodb:DeleteItem", TABLE)) == "Deny"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/test/stripe-??????"
    granted = [allow("secretsmanager:GetSecretValue", secret)]
    for name, verdict in (("app/test/stripe", "Allow"), ("app/test/stripe-other", "ImplicitDeny")):
        arn = iam.requests("secretsmanager", "GetSecretValue", {"SecretId": name}, "us-east-1", {})
        assert iam.decision(granted, arn[0]) == verdict, name


def test_not_action_and_not_resource():
    statement = {"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "NotResource": TABLE}
    other = "arn:aws:dynamodb:us-east-1:123456789012:table/other"
    assert iam.decision([statement], iam.Request("dynamodb:GetItem", other)) == "Allow"
    assert iam.decision([statement], iam.Request("dynamodb:DeleteItem", other)) == "ImplicitDeny"
    assert iam.decision([statement], iam.Request("dynamodb:GetItem", TABLE)) == "ImplicitDeny"


def test_conditions():
    own_items = allow(
        "dynamodb:GetItem",
        TABLE,
        Condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["alice"]}},
    )
    keys = {"test-users": "username"}

    def get(username):
        params = {"TableName": "test-users", "Key": {"username": {"S": username}}}
        return iam.requests("dynamodb", "GetItem", params, "us-east-1", keys)[0]

    assert iam.decision([own_items], get("alice")) == "Allow"
    assert iam.decision([own_items], get("bob")) == "ImplicitDeny"
    region = allow("*", "*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
    assert iam.decision([region], get("alice")) == "ImplicitDeny"
    nothing_returned = allow(
        "dynamodb:GetItem", "*", Condition={"StringEqualsIfExists": {"dynamodb:Select": "COUNT"}}
    )
    assert iam.decision([nothing_returned], get("alice")) == "Allow"
    absent = allow("*", "*", Condition={"Null": {"dynamodb:Select": "true"}})
    assert iam.decision([absent], get("alice")) == "Allow"
    with pytest.raises(ValueError, match="not emulated"):
        unknown = allow("*", "*", Condition={"DateEquals": {"aws:CurrentTime": "x"}})
        iam.decision([unknown], get("a"))


def test_batches_and_transactions_are_authorised_per_table_and_item():
    batch = {"RequestItems": {"test-users": {}, "test-meetings": {}}}
    found = iam.requests("dynamodb", "BatchGetItem", batch, "us-east-1", {})
    assert [(r.action, r.resource.rsplit("/", 1)[1]) for r in found] == [
        ("dynamodb:BatchGetItem", "test-users"),
        ("dynamodb:BatchGetItem", "test-meetings"),
    ]
    transaction = {
        "TransactItems": [
            {"ConditionCheck": {"TableName": "test-users", "Key": {}}},
            {"Put": {"TableName": "test-meetings", "Item": {}}},
            {"Update": {"TableName": "test-availabilities", "Key": {}}},
            {"Delete": {"TableName": "test-availabilities", "Key": {}}},
        ]
    }
    found = iam.requests("dynamodb", "TransactWriteItems", transaction, "us-east-1", {})
    assert [r.action for r in found] == [
        "dynamodb:ConditionCheckItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ]
    query = {"TableName": "test-meetings", "IndexName": "OwnerIndex"}
    (request,) = iam.requests("dynamodb", "Query", query, "us-east-1", {})
    assert request.resource.endswith(":table/test-meetings/index/OwnerIndex")
    queue = {"QueueUrl": "http://localhost/123456789012/dlq"}
    (request,) = iam.requests("sqs", "SendMessage", queue, "us-east-1", {})
    assert request.resource == "arn:aws:sqs:us-east-1:123456789012:dlq"
    # Any other call is authorised against "*".
    assert iam.requests("sts", "GetCallerIdentity", {}, "us-east-1", {})[0].resource == "*"


def test_a_mail_is_authorised_on_the_ses_identity_it_sends_as():
    """SES API v2 SendEmail: on the identity it names, else the From address's domain; a role
    granting ses:SendEmail on the stage's identity sends as it and as nothing else."""
    identity = "arn:aws:ses:us-east-1:123456789012:identity/example.org"
    named = {"FromEmailAddress": "a@example.org", "FromEmailAddressIdentityArn": identity}
    (request,) = iam.requests("ses", "SendEmail", named, "us-east-1", {})
    assert (request.action, request.resource) == ("ses:SendEmail", identity)
    by_address = {"FromEmailAddress": "ChessDojo <no-reply@example.org>"}
    assert iam.requests("ses", "SendEmail", by_address, "us-east-1", {})[0].resource == identity
    statements = [allow(["ses:SendEmail"], [identity])]
    assert iam.decision(statements, request) == "Allow"
    other = {"FromEmailAddress": "eve@elsewhere.org"}
    (elsewhere,) = iam.requests("ses", "SendEmail", other, "us-east-1", {})
    assert iam.decision(statements, elsewhere) == "ImplicitDeny"


def test_roles_come_from_serverless_yml_with_local_arns():
    role = iam.role(SERVICE, "listMeetings")
    assert role.name == "dojo-scheduler-test-ListMeetingsLambdaFunctionRole"
    granted = {
        (action, resource)
        for statement in role.statements
        for action in statement["Action"]
        for resource in statement["Resource"]
        if not action.startswith("logs:")
    }
    meetings = "arn:aws:dynamodb:us-east-1:123456789012:table/test-meetings"
    assert granted == {
        ("dynamodb:Query", f"{meetings}/index/OwnerIndex"),
        ("dynamodb:Query", f"{meetings}/index/ParticipantIndex"),
    }
    # Every function serverless.yml declares resolves, whatever its statements reference.
    for function in SERVICE.functions:
        json.dumps(iam.role(SERVICE, function).as_json())


def test_a_role_is_the_one_the_framework_built_not_a_copy():
    # The role enforced is the AWS::IAM::Role serverless-plugin-custom-roles put in the
    # framework's document (the one deployed), not one rebuilt from the function's statements.
    document = copy.deepcopy(SERVICE.document)
    role_id = document["functions"]["getUser"]["role"]
    only = allow(["sqs:SendMessage"], ["*"])
    statements = {"Version": "2012-10-17", "Statement": [only]}
    policy = {"PolicyName": "only", "PolicyDocument": statements}
    document["resources"]["Resources"][role_id]["Properties"]["Policies"] = [policy]
    service = Service(name=SERVICE.name, stage=SERVICE.stage, document=document)
    assert iam.role(service, "getUser").statements == (only,)
    # A function the document does not declare (a test's own) has no grant at all.
    assert iam.role(SERVICE, "undeclared").statements == ()


def test_every_handler_runs_with_its_function_role():
    assert book.handler.function == "bookAvailability"
    assert set_availability.handler.function == "setAvailability"
    assert roles.current() is None  # the test's own calls: no role


def without(role: iam.Role, action: str, resource_suffix: str) -> iam.Role:
    """`role` less the grant of `action` on the resource ending with `resource_suffix`."""
    statements = []
    for statement in role.statements:
        statement = dict(statement)
        resources = [r for r in statement["Resource"] if not r.endswith(resource_suffix)]
        if action in statement["Action"] and resources != statement["Resource"]:
            rest = [a for a in statement["Action"] if a != action]
            if rest:
                statements.append({**statement, "Action": rest})
            if resources:
                statements.append({**statement, "Action": [action], "Resource": resources})
            continue
        statements.append(statement)
    return iam.Role(role.function, role.name, tuple(statements))


def test_a_call_the_role_does_not_grant_fails_as_on_aws(tables):
    """Kept honest: take one grant a path needs away and the path fails (here: the booking's
    transaction puts the meeting; without PutItem on meetings AWS refuses, and the API
    answers 500 with nothing changed)."""
    add_user(tables, "alice")
    add_user(tables, "bob")
    published = http_event("PUT /availability", body=availability())
    created = set_availability.handler(published, None)
    assert created["statusCode"] == 200
    issued = json.loads(created["body"])["id"]  # the API issues ids
    booking = {"owner": "alice", "id": issued, "startTime": "2030-01-01T09:00:00Z"}
    booking["type"] = "CLASSICAL_GAME"
    event = http_event("PUT /availability/book", caller="bob", body=booking)

    reduced = without(roles.role("bookAvailability"), "dynamodb:PutItem", ":table/test-meetings")
    with roles.replaced("bookAvailability", reduced):
        response = book.handler(event, None)
    assert response["statusCode"] == 500
    assert "AccessDenied" not in response["body"]  # no internals leak
    assert tables.scan(TableName="test-meetings")["Items"] == []

    assert book.handler(event, None)["statusCode"] == 200  # the real role grants it


def test_the_error_is_aws_s(tables):
    role = iam.Role("fn", "fn-role", ())
    with roles.running_as(role), pytest.raises(ClientError) as raised:
        tables.get_item(TableName="test-users", Key={"username": {"S": "alice"}})
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/fn-role/fn is not authorized to perform: "
        f"dynamodb:GetItem on resource: {TABLE} because no identity-based policy allows the "
        "dynamodb:GetItem action"
    )


def test_notify_reads_the_bot_token_from_its_stage_secret(tables, monkeypatch):
    """The Discord token is in Secrets Manager, which only notify's role may read."""
    from api.secrets import SecretUnavailable
    from handlers.stream import notify

    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secrets.create_secret(
        Name="dojo-scheduler/test/discord", SecretString=json.dumps({"discordAuth": "bot-1"})
    )
    # serverless.yml's DISCORD_SECRET_NAME for this stage.
    name = SERVICE.document["functions"]["notify"]["environment"]["DISCORD_SECRET_NAME"]
    assert name == "dojo-scheduler/test/discord"
    monkeypatch.setattr(notify.settings, "secret_name", name)
    with roles.running_as(roles.role("notify")):
        assert notify._token() == "bot-1"
    secrets.create_secret(Name="other", SecretString=json.dumps({"discordAuth": "bot-2"}))
    with roles.running_as(roles.role("notify")), pytest.raises(SecretUnavailable):
        stage_secret("other")  # not granted: AccessDeniedException
    with roles.running_as(roles.role("getUser")), pytest.raises(SecretUnavailable):
        stage_secret("dojo-scheduler/test/discord-x")


# The functions that read each secret (serverless.yml custom.secrets), all features on: for
# Stripe and the shop, the same sets test_packaging checks in the packaged templates.
SECRET_READERS = {
    "discord": {"notify", "sendReminders"},  # the bot token: direct messages
    "stripe": STRIPE_FUNCTIONS,
    "tournament": {"createTournament", "updateLeaderboard", "snapshotLeaderboards"},
    "shop": SHOP_FUNCTIONS,
}


def environment_of(function: str) -> dict:
    """`function`'s environment with every feature on (config/plugins/stage-features.js)."""
    config = SERVICE.document["functions"][function]
    environment = dict(config.get("environment") or {})
    for extra in (config.get("withFeature") or {}).values():
        environment.update(extra.get("environment") or {})
    return environment


def test_every_secret_is_read_one_way():
    """Each secret is one entry of custom.secrets: a function whose role may read it has its
    name as <PURPOSE>_SECRET_NAME, and exactly the functions that use it may read it."""
    secrets = SERVICE.document["custom"]["secrets"]
    readers = {purpose: set() for purpose in secrets}
    for function in SERVICE.functions:
        role = iam.role(SERVICE, function)
        for purpose, secret in secrets.items():
            assert secret["name"] == f"dojo-scheduler/test/{purpose}"
            (request,) = iam.requests(
                "secretsmanager", "GetSecretValue", {"SecretId": secret["name"]}, "us-east-1", {}
            )
            if iam.decision(role.statements, request) == "Allow":
                readers[purpose].add(function)
                variable = f"{purpose.upper()}_SECRET_NAME"
                assert environment_of(function).get(variable) == secret["name"], function
        # No other secret: the grants name the stage's secrets one by one.
        (other,) = iam.requests(
            "secretsmanager", "GetSecretValue", {"SecretId": "other"}, "us-east-1", {}
        )
        assert iam.decision(role.statements, other) == "ImplicitDeny", function
    assert readers == {"google": set(), **SECRET_READERS}
