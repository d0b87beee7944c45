"""The embedded AWS: moto's server on loopback, with serverless.yml's tables and user pool.

Everything is created through boto3 against moto, from the CloudFormation properties in
serverless.yml, so the local tables and pool are the deployed ones (as far as moto models them).
"""

import io
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import ThreadedWSGIServer

from local import moto_patches
from local.serverless import REGION, Service

# Connections the kernel holds until they are accepted (Linux caps it at net.core.somaxconn,
# 4096 by default): a burst of clients waits in line instead of being refused or reset.
LISTEN_BACKLOG = 1024

# The CloudFormation properties create_table takes as they are.
_TABLE_PROPERTIES = (
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
)
# The user pool properties that change how sign-up and sign-in behave locally.
_POOL_PROPERTIES = (
    "Policies",
    "UsernameAttributes",
    "AliasAttributes",
    "AutoVerifiedAttributes",
    "UsernameConfiguration",
    "AccountRecoverySetting",
    "Schema",
)
_CLIENT_PROPERTIES = (
    "ClientName",
    "ExplicitAuthFlows",
    "ReadAttributes",
    "WriteAttributes",
    "AccessTokenValidity",
    "IdTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
    "PreventUserExistenceErrors",
)
# A browser app (Amplify) signs in with SRP, scripts and tests with a password; both refresh.
_AUTH_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")


@dataclass(frozen=True)
class UserPool:
    id: str
    client_id: str
    # Attributes that sign in in place of a username (`email`): Cognito then names each user
    # by a generated id, and that id is what the tokens and the trigger carry.
    username_attributes: tuple[str, ...]
    alias_attributes: tuple[str, ...]  # attributes that sign in as well as the username
    auto_verified_attributes: tuple[str, ...]

    @property
    def issuer(self) -> str:
        # What moto writes into `iss`: the real Cognito issuer, whatever its own address is.
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.id}"


class Serialised:
    """A WSGI app that serves one request at a time, as the unit AWS applies atomically.

    moto's backends are not safe for concurrent requests: two TransactWriteItems (or a
    transaction and a Put) interleave inside it, so an availability ends up both booked and
    open, and dictionaries change size while moto iterates over them. DynamoDB and Cognito
    apply each request atomically; so does this lock. The request body is read before the
    lock is taken, and the whole response produced before it is released.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app
        self.lock = threading.Lock()
        self.changes = 0  # requests that may have changed what a restart keeps

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
        with self.lock:
            if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(_READS):
                self.changes += 1
            response = self.app(environ, start_response)
            try:
                return list(response)
            finally:
                if hasattr(response, "close"):
                    response.close()


# The requests (by X-Amz-Target) that change nothing local/persistence.py keeps.
_READS = tuple(
    f"DynamoDB_20120810.{action}"
    for action in ("GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "ListTables")
) + ("DynamoDBStreams_20120810.",)


class _MotoServer(ThreadedWSGIServer):
    request_queue_size = LISTEN_BACKLOG


class MotoServer:
    """moto's server (what moto's ThreadedMotoServer runs), one request at a time."""

    def __init__(self, port: int):
        moto_patches.install()  # DynamoDB's limits, transactions, retention (one place)
        app = Serialised(DomainDispatcherApplication(create_backend_app))
        self.app = app  # its lock: moto serves no request while it is held
        self._server = _MotoServer("127.0.0.1", port, app)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, bound = self._server.server_address[:2]
        self.url = f"http://{host}:{bound}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def start_moto(port: int) -> tuple[MotoServer, str]:
    """moto's server on 127.0.0.1:`port` (0: any free port), serving, and its URL."""
    server = MotoServer(port)
    return server, server.url


def create_tables(service: Service, dynamodb: Any = None) -> list[str]:
    """serverless.yml's tables, through `dynamodb` (a client; boto3's default one if None)."""
    dynamodb = dynamodb or boto3.client("dynamodb")
    streamed = {subscription.table for subscription in service.streams}
    names = []
    for logical_id, properties in service.resources("AWS::DynamoDB::Table").items():
        table = {key: properties[key] for key in _TABLE_PROPERTIES if key in properties}
        if logical_id in streamed:
            # A table a function's `stream` event reads. serverless.yml streams it only where
            # that function is deployed (a condition); locally it always runs.
            table["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": _stream_view_type(properties),
            }
        dynamodb.create_table(**table)
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(
                TableName=table["TableName"],
                TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"],
                    "Enabled": bool(ttl.get("Enabled", True)),
                },
            )
        names.append(table["TableName"])
    return names


def create_secret(service: Service, purpose: str, values: dict[str, str]) -> str:
    """The stage's secret for `purpose` (serverless.yml custom.secrets), a JSON object, created
    as on AWS by hand (docs/deploy.md, "Secrets"), and its name where the functions find it:
    <PURPOSE>_SECRET_NAME. No function's environment holds a value. Returns the name."""
    name = service.document["custom"]["secrets"][purpose]["name"]
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=name, SecretString=json.dumps(values)
    )
    os.environ[f"{purpose.upper()}_SECRET_NAME"] = name
    return name


def _stream_view_type(properties: dict[str, Any]) -> str:
    """The table's StreamViewType, also from inside a condition's `Fn::If` (its true branch)."""
    specification = properties.get("StreamSpecification") or {}
    if "Fn::If" in specification:
        specification = specification["Fn::If"][1]
    return specification.get("StreamViewType", "NEW_AND_OLD_IMAGES")


def create_user_pool(service: Service) -> UserPool:
    """The first user pool and client in serverless.yml; email sign-in defaults otherwise."""
    pools = service.resources("AWS::Cognito::UserPool")
    pool_id, properties = next(
        iter(pools.items()),
        (None, {"UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"]}),
    )
    pool = {key: properties[key] for key in _POOL_PROPERTIES if key in properties}
    if "Schema" in pool:
        pool["Schema"] = [_schema_attribute(attribute) for attribute in pool["Schema"]]
    cognito = boto3.client("cognito-idp")
    created = cognito.create_user_pool(
        PoolName=properties.get("UserPoolName") or f"{service.name}-{service.stage}", **pool
    )["UserPool"]

    clients = service.resources("AWS::Cognito::UserPoolClient")
    client_properties = next(
        (
            client
            for client in clients.values()
            if pool_id is None or client.get("UserPoolId") == {"Ref": pool_id}
        ),
        {},
    )
    client = {key: client_properties[key] for key in _CLIENT_PROPERTIES if key in client_properties}
    client["ClientName"] = client.get("ClientName") or f"{service.name}-{service.stage}-web"
    client["ExplicitAuthFlows"] = sorted({*client.get("ExplicitAuthFlows", ()), *_AUTH_FLOWS})
    client_id = cognito.create_user_pool_client(
        UserPoolId=created["Id"], GenerateSecret=False, **client
    )["UserPoolClient"]["ClientId"]
    return UserPool(
        id=created["Id"],
        client_id=client_id,
        username_attributes=tuple(pool.get("UsernameAttributes", ())),
        alias_attributes=tuple(pool.get("AliasAttributes", ())),
        auto_verified_attributes=tuple(pool.get("AutoVerifiedAttributes", ())),
    )


def _schema_attribute(attribute: dict[str, Any]) -> dict[str, Any]:
    # CloudFormation takes numbers for the length and value bounds; the API takes strings.
    converted = dict(attribute)
    for constraints in ("StringAttributeConstraints", "NumberAttributeConstraints"):
        if constraints in converted:
            converted[constraints] = {k: str(v) for k, v in converted[constraints].items()}
    return converted
