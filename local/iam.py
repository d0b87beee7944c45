"""Each function's own IAM role, enforced on every AWS call it makes, as AWS enforces it.

moto checks no IAM: a call a role does not grant succeeds locally and fails on AWS. Here the
role of a function is the one serverless-plugin-custom-roles builds for the stage, read from the
framework's own document (local/serverless.py: the provider's shared statements, the function's
`iamRoleStatements`, those of its `withFeature` features that are on, its log group, the streams
its `stream` events read), with the CloudFormation references resolved to the local ARNs
(account 123456789012, us-east-1, the stage's table names). Every botocore call in the process
goes through `BaseClient._make_api_call`; `install` wraps it so that, while a function runs, each
call is first turned into the authorisation requests AWS makes for it (a BatchGetItem: one per
table; a TransactWriteItems: one per item, with the item's own action; a Query on an index: the
index's ARN) and each request is evaluated against the role: an explicit Deny wins, otherwise
some Allow must match the action, the resource and the conditions. A refused call raises the
ClientError AWS answers (AccessDeniedException, with AWS's message), before it reaches moto.

Which role applies is asked of a callable at each call: a process running one function (`python
-m local.runtime`) always answers that function's role; the handler tests answer the role of
the handler being invoked (tests/conftest.py) and None in between, when the test itself sets
tables up with its own, unrestricted credentials.

Standard library and botocore only: the runtime installs it before importing the handler.
"""

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account (as local.serverless)
REGION = "us-east-1"

Statement = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One authorisation request: an action on a resource, with its condition context."""

    action: str  # dynamodb:GetItem
    resource: str  # arn:aws:dynamodb:us-east-1:123456789012:table/test-users
    context: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Role:
    """A function's role: the statements of its policies, and the names AWS's messages use."""

    function: str  # the deployed function name, e.g. dojo-scheduler-test-bookAvailability
    name: str  # the role's name, e.g. dojo-scheduler-test-BookAvailabilityLambdaFunctionRole
    statements: tuple[Statement, ...]

    @property
    def principal(self) -> str:
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.name}/{self.function}"

    def as_json(self) -> dict[str, Any]:
        return {"function": self.function, "name": self.name, "statements": self.statements}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "Role":
        return cls(value["function"], value["name"], tuple(value["statements"]))


# --- the policy evaluator ---------------------------------------------------------------


def decision(statements: Iterable[Statement], request: Request) -> str:
    """ "Allow", "Deny" (an explicit Deny matched) or "ImplicitDeny" (no Allow matched)."""
    allowed = False
    for statement in statements:
        if not _applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else "ImplicitDeny"


def _applies(statement: Statement, request: Request) -> bool:
    if "Action" in statement:
        actions = _matches_any(statement["Action"], request.action, case_sensitive=False)
    else:
        actions = not _matches_any(statement["NotAction"], request.action, case_sensitive=False)
    if "Resource" in statement:
        resources = _matches_any(statement["Resource"], request.resource)
    else:
        resources = not _matches_any(statement["NotResource"], request.resource)
    return actions and resources and _conditions_hold(statement.get("Condition") or {}, request)


def _matches_any(patterns: Any, value: str, case_sensitive: bool = True) -> bool:
    return any(wildcard(pattern, value, case_sensitive) for pattern in _as_list(patterns))


@functools.lru_cache(maxsize=4096)
def _wildcard_pattern(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def wildcard(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's matching: `*` any run of characters (`/` and `:` included), `?` any one."""
    return _wildcard_pattern(str(pattern), case_sensitive).fullmatch(value) is not None


# Condition operators: (value in the request, value in the policy) -> bool.
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda have, want: have == want,
    "StringNotEquals": lambda have, want: have != want,
    "StringEqualsIgnoreCase": lambda have, want: have.lower() == want.lower(),
    "StringNotEqualsIgnoreCase": lambda have, want: have.lower() != want.lower(),
    "StringLike": lambda have, want: wildcard(want, have),
    "StringNotLike": lambda have, want: not wildcard(want, have),
    "ArnEquals": lambda have, want: wildcard(want, have),
    "ArnLike": lambda have, want: wildcard(want, have),
    "ArnNotEquals": lambda have, want: not wildcard(want, have),
    "ArnNotLike": lambda have, want: not wildcard(want, have),
    "Bool": lambda have, want: have.lower() == str(want).lower(),
    "NumericEquals": lambda have, want: float(have) == float(want),
    "NumericLessThan": lambda have, want: float(have) < float(want),
    "NumericLessThanEquals": lambda have, want: float(have) <= float(want),
    "NumericGreaterThan": lambda have, want: float(have) > float(want),
    "NumericGreaterThanEquals": lambda have, want: float(have) >= float(want),
}
_NEGATED = {name for name in _OPERATORS if "Not" in name}


def _conditions_hold(conditions: dict[str, Any], request: Request) -> bool:
    """Every operator, every key of it: AND; the values listed for one key: OR."""
    return all(
        _condition_holds(operator, key, _as_list(wanted), request.context)
        for operator, keys in conditions.items()
        for key, wanted in keys.items()
    )


def _condition_holds(
    operator: str, key: str, wanted: list[Any], context: dict[str, list[str]]
) -> bool:
    present = _context_value(context, key)
    if operator == "Null":  # true: the key must be absent; false: present
        return all((present is None) == (str(w).lower() == "true") for w in wanted)
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if operator not in _OPERATORS:
        raise ValueError(f"condition operator {operator!r} is not emulated locally")
    compare = _OPERATORS[operator]
    if present is None:
        # A missing key: ForAllValues holds (nothing to check), IfExists holds, others fail.
        return qualifier == "ForAllValues" or if_exists
    if qualifier == "ForAllValues":
        return all(any(compare(have, str(w)) for w in wanted) for have in present)
    if qualifier == "ForAnyValue":
        return any(compare(have, str(w)) for have in present for w in wanted)
    # A single-valued key; a negated operator holds when the value matches none of the values.
    if operator in _NEGATED:
        return all(compare(have, str(w)) for have in present for w in wanted)
    return any(compare(have, str(w)) for have in present for w in wanted)


def _context_value(context: dict[str, list[str]], key: str) -> list[str] | None:
    for name, value in context.items():  # condition keys are case-insensitive
        if name.lower() == key.lower():
            return value
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- what AWS authorises for a call -----------------------------------------------------


def requests(
    service: str, operation: str, params: dict[str, Any], region: str, keys: dict[str, str]
) -> list[Request]:
    """The authorisation requests AWS makes for one call. `keys`: each table's partition key
    attribute, for `dynamodb:LeadingKeys`."""
    common = {"aws:RequestedRegion": [region]}
    if service == "dynamodb":
        return _dynamodb(operation, params, region, keys, common)
    action = f"{service}:{operation}"
    if service == "secretsmanager" and "SecretId" in params:
        return [Request(action, _secret_arn(params["SecretId"], region), common)]
    if service == "sqs" and "QueueUrl" in params:
        queue = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        return [Request(action, f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{queue}", common)]
    if service == "ses" and operation == "SendEmail":
        # Authorised on the sending identity, with the bare From address as `ses:FromAddress`
        # (sendReminders' grant is conditional on it).
        address = parseaddr(str(params.get("FromEmailAddress", "")))[1]
        conditions = {**common, "ses:FromAddress": [address]}
        return [Request(action, _ses_identity_arn(params, region), conditions)]
    # Anything else is authorised against "*": a role must grant it on every resource.
    return [Request(action, "*", common)]


# The action each item of a transaction needs.
_TRANSACT_ACTIONS = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "Get": "GetItem",
}


def _dynamodb(
    operation: str,
    params: dict[str, Any],
    region: str,
    keys: dict[str, str],
    common: dict[str, list[str]],
) -> list[Request]:
    def request(action: str, table: str, body: dict[str, Any], index: str | None = None):
        arn = _table_arn(table, region)
        if index:
            arn = f"{arn}/index/{index}"
        context = dict(common)
        leading = _leading_keys(body, keys.get(_table_name(table)))
        if leading:
            context["dynamodb:LeadingKeys"] = leading
        for name in ("Select", "ReturnValues", "ReturnConsumedCapacity"):
            if name in body:
                context[f"dynamodb:{name}"] = [str(body[name])]
        return Request(f"dynamodb:{action}", arn, context)

    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [request(operation, table, {}) for table in params.get("RequestItems") or {}]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params.get("TransactItems") or []:
            for kind, body in item.items():
                found.append(request(_TRANSACT_ACTIONS[kind], body["TableName"], body))
        return found
    if "TableName" in params:
        return [request(operation, params["TableName"], params, params.get("IndexName"))]
    if "TableArn" in params:  # stream and table-level operations
        return [request(operation, params["TableArn"], params)]
    if "StreamArn" in params:
        return [Request(f"dynamodb:{operation}", params["StreamArn"], dict(common))]
    return [Request(f"dynamodb:{operation}", "*", dict(common))]


def _leading_keys(body: dict[str, Any], partition_key: str | None) -> list[str]:
    item = body.get("Key") or body.get("Item") or {}
    value = item.get(partition_key) if partition_key else None
    return [next(iter(value.values()))] if isinstance(value, dict) and value else []


def _table_name(table: str) -> str:
    return table.rsplit("table/", 1)[-1] if table.startswith("arn:") else table


def _table_arn(table: str, region: str) -> str:
    return (
        table
        if table.startswith("arn:")
        else f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{table}"
    )


def _secret_arn(secret_id: str, region: str) -> str:
    """A secret named by its name stands for its ARN, whose last 6 characters Secrets Manager
    picks at random (a role grants `<name>-??????`); `XXXXXX` fills them in."""
    if secret_id.startswith("arn:"):
        return secret_id
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret_id}-XXXXXX"


def _ses_identity_arn(params: dict[str, Any], region: str) -> str:
    """The SES identity a SendEmail (API v2) is authorised on: the one it names
    (FromEmailAddressIdentityArn), else its From address's domain."""
    if params.get("FromEmailAddressIdentityArn"):
        return params["FromEmailAddressIdentityArn"]
    domain = parseaddr(params.get("FromEmailAddress") or "")[1].rpartition("@")[2]
    return f"arn:aws:ses:{region}:{ACCOUNT_ID}:identity/{domain}"


# --- AWS's answer -----------------------------------------------------------------------


def access_denied(role: Role, request: Request, operation: str, explicit: bool):
    """The ClientError AWS raises for a call the role does not grant."""
    from botocore.exceptions import ClientError

    why = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {request.action} action"
    )
    message = (
        f"User: {role.principal} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} {why}"
    )
    # SQS's query-compatible errors keep their old code.
    code = "AccessDenied" if request.action.startswith("sqs:") else "AccessDeniedException"
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400 if code.endswith("Exception") else 403},
    }
    return ClientError(response, operation)


def check(role: Role, client: Any, operation: str, params: dict[str, Any], keys: dict[str, str]):
    """Raises AWS's AccessDeniedException unless `role` grants every request of the call."""
    model = client.meta.service_model
    service = model.signing_name or model.endpoint_prefix
    region = client.meta.region_name or REGION
    for request in requests(service, operation, params, region, keys):
        verdict = decision(role.statements, request)
        if verdict != "Allow":
            raise access_denied(role, request, operation, explicit=verdict == "Deny")


def install(current_role: Callable[[], Role | None], keys: dict[str, str]) -> Callable[[], None]:
    """Every botocore client in this process asks `current_role()` before each call: with a
    role, the call must be granted (else AWS's error); None lets it through. Returns the undo."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    @functools.wraps(original)
    def enforced(self, operation_name, api_params):
        role = current_role()
        if role is not None:
            check(role, self, operation_name, api_params, keys)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = enforced

    def uninstall() -> None:
        BaseClient._make_api_call = original

    return uninstall


# --- a function's role, as the framework builds it -------------------------------------


def role(service: Any, function: str) -> Role:
    """`function`'s role in `service` (a local.serverless.Service): the AWS::IAM::Role that
    serverless-plugin-custom-roles added for it when the framework shaped the stage (the
    provider's shared statements, the function's `iamRoleStatements` with those of its features
    that are on, its log group, the streams its `stream` events read), its references resolved
    to local ARNs."""
    functions = service.document.get("functions") or {}
    resources = (service.document.get("resources") or {}).get("Resources") or {}
    config = functions.get(function)
    if config is None:  # a function serverless.yml does not declare (a test's own): no grant
        deployed = f"{service.name}-{service.stage}-{function}"
        return Role(deployed, f"{deployed}-role", ())
    logical_id = config.get("role")  # the plugin's <Function>LambdaFunctionRole
    resource = resources.get(logical_id) if isinstance(logical_id, str) else None
    if not resource or resource.get("Type") != "AWS::IAM::Role":
        raise ValueError(f"{function}: no role of its own in the framework's document")
    policies = resource["Properties"].get("Policies") or []
    statements = [
        statement
        for policy in policies
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
    ]
    resolved = tuple(_resolve(service, statement) for statement in statements)
    return Role(config["name"], f"{service.name}-{service.stage}-{logical_id}", resolved)


def partition_keys(service: Any) -> dict[str, str]:
    """Each table's name -> its partition key attribute (for dynamodb:LeadingKeys)."""
    return {
        properties["TableName"]: next(
            key["AttributeName"] for key in properties["KeySchema"] if key["KeyType"] == "HASH"
        )
        for properties in service.resources("AWS::DynamoDB::Table").values()
    }


def _resolve(service: Any, value: Any) -> Any:
    """CloudFormation's intrinsic functions, as far as IAM statements use them, locally."""
    if isinstance(value, list):
        return [_resolve(service, item) for item in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Ref"]:
        return _ref(service, value["Ref"])
    if list(value) == ["Fn::GetAtt"]:
        target = value["Fn::GetAtt"]
        logical_id, attribute = target.split(".", 1) if isinstance(target, str) else target
        return _attribute(service, logical_id, attribute)
    if list(value) == ["Fn::Join"]:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_resolve(service, part)) for part in parts)
    if list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: _sub(service, m[1]), value["Fn::Sub"])
    if any(key.startswith("Fn::") for key in value):
        raise ValueError(f"{value!r} cannot be resolved locally")
    return {key: _resolve(service, item) for key, item in value.items()}


def _sub(service: Any, name: str) -> str:
    if "." in name:
        return str(_attribute(service, *name.split(".", 1)))
    return str(_ref(service, name))


def _ref(service: Any, name: str) -> str:
    pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID}
    if name in pseudo:
        return pseudo[name]
    if name in service.resources("AWS::DynamoDB::Table"):
        return service.table_name(name)
    raise ValueError(f"Ref {name!r} cannot be resolved locally")


def _attribute(service: Any, logical_id: str, attribute: str) -> str:
    tables = service.resources("AWS::DynamoDB::Table")
    if logical_id in tables:
        arn = _table_arn(tables[logical_id]["TableName"], REGION)
        if attribute == "Arn":
            return arn
        if attribute == "StreamArn":  # the stream's label is known only once it exists
            return f"{arn}/stream/*"
    queues = service.resources("AWS::SQS::Queue")
    if logical_id in queues and attribute == "Arn":
        return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queues[logical_id]['QueueName']}"
    raise ValueError(f"GetAtt {logical_id}.{attribute} cannot be resolved locally")
