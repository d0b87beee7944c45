"""What the local stack reads from serverless.yml: tables, user pool, functions and routes.

serverless.yml is the one description of the deployed stack, and the Serverless Framework is
the one reader of it: the local stack and the tests take the framework's own document
(`sls local-service`, config/plugins/local-service.js: every `${...}` variable resolved,
CloudFormation tags in their long form, `{"Ref": ...}`, `{"Fn::GetAtt": [...]}`, the stage's
features applied by config/plugins/stage-features.js and each function's role added by
serverless-plugin-custom-roles, as `sls package` does), never a second reader. The document is
cached under .serverless/ by a hash of everything it is made from, so only the first run after a
change pays the framework's ~3 s (docs/one-reading.md).
"""

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"

ROOT = Path(__file__).resolve().parent.parent
# The pinned CLI (package.json); the framework itself, not a copy of its rules.
SLS = ROOT / "node_modules" / ".bin" / "sls"
# The git-ignored secret files config/secret-files.js and config/tournaments.js read.
SECRET_FILES = ("oauth.yml", "discord.yml", "tournament.yml", "wix.yml")
# The environment variables the inputs read (`${env:NAME}` in YAML, process.env.NAME in the
# config's JavaScript): only those key the cache, so an unrelated variable costs no re-read.
_ENV_READ = re.compile(r"\$\{env:(\w+)|process\.env\.(\w+)|process\.env\[['\"](\w+)")


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
    # Where serverless.yml is: its handlers/ holds the functions' code (None: this repository).
    directory: Path | None = None

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
    """serverless.yml for `stage`, as the framework shapes it for packaging. `features`: those
    on (each passed as `--param=<feature>=true`, which config/<stage>.yml reads); None: the
    stage's own (config/test.yml: every one)."""
    return service_of(resolved(path, stage, features), stage, features, path.resolve().parent)


def service_of(
    document: dict[str, Any],
    stage: str,
    features: frozenset[str] | None = None,
    directory: Path | None = None,
) -> Service:
    """The Service of a framework document (`sls local-service`'s output); `directory`: where
    its serverless.yml and handlers/ are."""
    service = Service(
        name=str(document.get("service")),
        stage=stage,
        document=document,
        features=features,
        directory=directory,
    )
    provider = document.get("provider") or {}
    # The functions of features that are off are already gone (stage-features.js).
    for name, config in (document.get("functions") or {}).items():
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


def resolved(path: Path, stage: str, features: frozenset[str] | None = None) -> dict[str, Any]:
    """`sls local-service` of the service whose serverless.yml is `path`, from .serverless/ when
    nothing it is made from has changed since."""
    directory = path.resolve().parent
    arguments = ["--stage", stage]
    arguments += [f"--param={feature}=true" for feature in sorted(features or ())]
    variant = "+".join([stage, *sorted(features or ())])  # local+payments: one cache each
    cache = directory / ".serverless" / "local-service" / variant
    cache = cache / f"{_inputs_digest(directory, arguments)}.json"
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    if not SLS.exists():
        raise RuntimeError(f"{SLS} is missing: `npm ci` (make node_modules/.installed) first")
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Written whole by the framework, then renamed: parallel test workers, each of which may
    # run it, never read half a document.
    partial = cache.with_suffix(f".{os.getpid()}.tmp")
    command = [str(SLS), "local-service", *arguments, "--output", str(partial)]
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(
            f"{' '.join(command[1:-2])} in {directory} failed:\n{result.stdout}{result.stderr}"
        )
    document = json.loads(partial.read_text())
    for stale in cache.parent.glob("*.json"):  # made from inputs that changed since
        stale.unlink(missing_ok=True)
    partial.replace(cache)
    return document


def _inputs_digest(directory: Path, arguments: list[str]) -> str:
    """What the resolved document depends on: serverless.yml, config/**, the secret files,
    the framework's and plugins' versions (package-lock.json) and the environment variables
    those read. A file's absence counts, so creating a secret file re-reads."""
    files = [directory / "serverless.yml", directory / "package-lock.json"]
    files += [directory / name for name in SECRET_FILES]
    config = directory / "config"
    files += sorted(p for p in config.rglob("*") if p.is_file()) if config.is_dir() else []
    digest = hashlib.sha256(" ".join(arguments).encode())
    names: set[str] = set()
    for file in files:
        content = file.read_bytes() if file.is_file() else None
        digest.update(f"\0{file.relative_to(directory)}\0".encode())
        digest.update(b"-" if content is None else b"+" + hashlib.sha256(content).digest())
        if content is not None:
            text = content.decode(errors="replace")
            names.update(name for match in _ENV_READ.findall(text) for name in match if name)
    for name in sorted(names):
        value = os.environ.get(name)
        digest.update(f"\0{name}={'-' if value is None else '+' + value}".encode())
    return digest.hexdigest()[:16]
