"""What the local stack reads from serverless.yml: tables, user pool, functions and routes.

serverless.yml is the one description of the deployed stack; the local stack builds its tables,
its user pool and its routes from it, so the two cannot drift. CloudFormation tags (`!Ref`,
`!GetAtt`, ...) load as their long form (`{"Ref": ...}`, `{"Fn::GetAtt": [...]}`) and
`${...}` variables are resolved only as far as a local run needs.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"

_VARIABLE = re.compile(r"\$\{([^${}]+)\}")  # innermost first: `${self:a.${sls:stage}}`
_QUOTED = re.compile(r"""^(['"])(.*)\1$""")


class _CloudFormationLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True)
class Route:
    method: str  # upper case; ANY matches every method
    path: str  # as declared, e.g. /meeting/{id}
    function: str  # the function's name in serverless.yml
    authorizer: str | None  # a JWT authorizer's name, None for a public route
    scopes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Function:
    name: str
    module: str  # handlers/user/get.handler -> handlers.user.get
    attribute: str  # -> handler
    memory: int
    timeout: int  # seconds


@dataclass(frozen=True)
class StreamSubscription:
    """A function's `stream` event on a table's DynamoDB stream (an event source mapping)."""

    function: str  # the function's name in serverless.yml
    table: str  # the table's logical id
    batch_size: int
    maximum_retry_attempts: int


@dataclass(frozen=True)
class Schedule:
    """A function's `schedule` event (an EventBridge rule): `rate(5 minutes)`, `cron(...)`."""

    function: str  # the function's name in serverless.yml
    expression: str


@dataclass
class Service:
    name: str
    stage: str
    document: dict[str, Any]
    functions: dict[str, Function] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    streams: list[StreamSubscription] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    # The stage features (`feature:` of a function, e.g. payments) whose functions are here;
    # None: every function, whatever its feature.
    features: frozenset[str] | None = None

    def has_feature(self, feature: str) -> bool:
        return self.features is None or feature in self.features

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """The Properties of every resource of CloudFormation type `kind`, by logical id."""
        resources = (self.document.get("resources") or {}).get("Resources") or {}
        return {
            logical_id: resource.get("Properties") or {}
            for logical_id, resource in resources.items()
            if resource.get("Type") == kind
        }

    def table_name(self, logical_id: str) -> str:
        return self.resources("AWS::DynamoDB::Table")[logical_id]["TableName"]

    def environment(self) -> dict[str, str]:
        """The functions' environment variables (provider's, then each function's), with a
        `!Ref` to a table resolved to the table's name."""
        provider = self.document.get("provider") or {}
        merged = dict(provider.get("environment") or {})
        for function in (self.document.get("functions") or {}).values():
            merged.update(function.get("environment") or {})
        tables = self.resources("AWS::DynamoDB::Table")
        environment = {}
        for name, value in merged.items():
            if isinstance(value, dict) and value.get("Ref") in tables:
                value = tables[value["Ref"]]["TableName"]
            if isinstance(value, str | int | float | bool):
                environment[name] = str(value)
        return environment

    def http_api(self) -> dict[str, Any]:
        return (self.document.get("provider") or {}).get("httpApi") or {}

    def identity_header(self, authorizer: str) -> str:
        """The header an authorizer reads the token from (API Gateway's default: Authorization)."""
        config = (self.http_api().get("authorizers") or {}).get(authorizer) or {}
        source = config.get("identitySource") or "$request.header.Authorization"
        source = source[0] if isinstance(source, list) else source
        return source.removeprefix("$request.header.").lower()

    def post_confirmation_function(self) -> Function | None:
        """The function Cognito calls after a sign-up is confirmed: the one wired to the user
        pool's LambdaConfig, or with a cognitoUserPool PostConfirmation event, or `createUser`."""
        for pool in self.resources("AWS::Cognito::UserPool").values():
            target = (pool.get("LambdaConfig") or {}).get("PostConfirmation") or {}
            logical_id = (target.get("Fn::GetAtt") or [None])[0]
            for function in self.functions.values():
                if logical_id == _function_logical_id(function.name):
                    return function
        for name, function in (self.document.get("functions") or {}).items():
            for event in function.get("events") or []:
                trigger = (event or {}).get("cognitoUserPool") or {}
                if trigger.get("trigger") == "PostConfirmation":
                    return self.functions[name]
        return self.functions.get("createUser")


def _function_logical_id(name: str) -> str:
    # The Serverless Framework's naming: createUser -> CreateUserLambdaFunction.
    normalized = name.replace("-", "Dash").replace("_", "Underscore")
    return f"{normalized[:1].upper()}{normalized[1:]}LambdaFunction"


def load(path: Path, stage: str, features: frozenset[str] | None = None) -> Service:
    """serverless.yml for `stage`; with `features`, only the functions of those features (and
    those of none), as config/plugins/stage-features.js deploys them."""
    with path.open() as file:
        raw = yaml.load(file, Loader=_CloudFormationLoader)
    document = _Resolver(raw, stage).resolve(raw)
    service = Service(
        name=str(document.get("service")), stage=stage, document=document, features=features
    )
    provider = document.get("provider") or {}
    for name, config in (document.get("functions") or {}).items():
        if config.get("feature") and not service.has_feature(config["feature"]):
            continue
        module, _, attribute = config["handler"].rpartition(".")
        service.functions[name] = Function(
            name=name,
            module=module.replace("/", "."),
            attribute=attribute,
            memory=int(config.get("memorySize") or provider.get("memorySize") or 1024),
            timeout=int(config.get("timeout") or provider.get("timeout") or 6),
        )
        for event in config.get("events") or []:
            if isinstance(event, dict) and "httpApi" in event:
                service.routes.append(_route(name, event["httpApi"]))
            if isinstance(event, dict) and "stream" in event:
                service.streams.extend(_stream(name, event["stream"]))
            if isinstance(event, dict) and "schedule" in event:
                service.schedules.extend(_schedule(name, event["schedule"]))
    return service


def _route(function: str, event: str | dict[str, Any]) -> Route:
    if isinstance(event, str):  # `httpApi: 'GET /user'`
        method, _, path = event.partition(" ")
        event = {"method": method, "path": path}
    authorizer = event.get("authorizer")
    if isinstance(authorizer, str):
        authorizer = {"name": authorizer}
    method = str(event["method"]).upper()
    return Route(
        method="ANY" if method == "*" else method,
        path=event["path"],
        function=function,
        authorizer=authorizer and authorizer.get("name"),
        scopes=tuple((authorizer or {}).get("scopes") or ()),
    )


def _stream(function: str, event: Any) -> list[StreamSubscription]:
    """A DynamoDB `stream` event whose arn is a table's `!GetAtt <Table>.StreamArn` (others:
    Kinesis, a stream of a table outside serverless.yml, cannot be read locally)."""
    if not isinstance(event, dict) or event.get("enabled") is False:
        return []
    target = event.get("arn")
    attribute = target.get("Fn::GetAtt") if isinstance(target, dict) else None
    if event.get("type") != "dynamodb" or not attribute or attribute[1:] != ["StreamArn"]:
        return []
    return [
        StreamSubscription(
            function=function,
            table=attribute[0],
            # The event source mapping's defaults: 100 records, retries until the record
            # expires (-1; locally bounded by the poller).
            batch_size=int(event.get("batchSize") or 100),
            maximum_retry_attempts=int(event.get("maximumRetryAttempts", -1)),
        )
    ]


def _schedule(function: str, event: Any) -> list[Schedule]:
    """`schedule: rate(5 minutes)` or `schedule: {rate: [cron(...), ...], enabled: ...}`."""
    if isinstance(event, str):
        return [Schedule(function, event)]
    if not isinstance(event, dict) or event.get("enabled") is False:
        return []
    rates = event.get("rate") or []
    return [Schedule(function, rate) for rate in ([rates] if isinstance(rates, str) else rates)]


class _Resolver:
    """Resolves `${...}` variables the way the Serverless Framework would for this stage.

    Sources: `sls:stage`/`opt:stage`, `self:<path>`, `aws:region`, `aws:accountId`, `env:<NAME>`
    and quoted literals as fallbacks (`${opt:stage, 'dev'}`). Anything else (`ssm:`, `file()`)
    resolves to its fallback, or to an empty string: the local stack does not need it.
    """

    def __init__(self, document: dict[str, Any], stage: str):
        self.document = document
        self.stage = stage

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, str):
            return self._string(value)
        return value

    def _string(self, text: str) -> Any:
        while match := _VARIABLE.search(text):
            value = self._variable(match[1])
            if match[0] == text and not isinstance(value, str):
                return value  # a whole-value variable may stand for a list or a mapping
            text = text[: match.start()] + str(value) + text[match.end() :]
        return text

    def _variable(self, expression: str) -> Any:
        for source in (part.strip() for part in expression.split(",")):
            value = self._source(source)
            if value is not None:
                return value
        return ""

    def _source(self, source: str) -> Any:
        if quoted := _QUOTED.match(source):
            return quoted[2]
        kind, _, name = source.partition(":")
        if source in ("sls:stage", "opt:stage", "self:provider.stage"):
            return self.stage
        if kind == "self":
            value: Any = self.document
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return None if value is None else self.resolve(value)
        if source == "aws:region":
            return REGION
        if source == "aws:accountId":
            return ACCOUNT_ID
        if kind == "env":
            return os.environ.get(name)
        return None
