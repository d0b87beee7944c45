"""The pinned IAM grants: `make grants` writes tests/infra/grants.json from the framework's
reading of serverless.yml (the roles serverless-plugin-custom-roles builds), and the tests check
that the pin is current (test_grants.py) and that every packaged stage's roles are exactly it
(test_packaging.py, test_tournament_packaging.py).

Why a pin, when serverless.yml already says it: least privilege is reviewed, not derived. A
grant added, widened or dropped in serverless.yml fails the tests until `make grants` is run,
and then shows in the review as a diff of grants.json, one line per (action, resource), by
function and by the stage feature that adds it (docs/testing.md, "Grants").

Per function: its DynamoDB actions on each table, index or stream (by logical id) and its
queues' actions; CloudWatch Logs, Secrets Manager and SES grants are left out (every function
logs; each secret's readers and the SES identity are checked on their own).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PIN = Path(__file__).resolve().parent / "grants.json"
# The stage features `make run` can switch on (config/local.yml's `${param:<feature>, ...}`,
# docs/one-reading.md): the pin's base is the local stage without any, and each feature's part
# what turning it on adds. A new feature is found here with nothing to add.
FEATURES = tuple(
    sorted(set(re.findall(r"\$\{param:(\w+)", (ROOT / "config" / "local.yml").read_text())))
)
# What the test stage (config/test.yml: every feature) adds to the local one with all of
# FEATURES: prod's sesMailRequired (checkSesAccount), which the local stage never has.
SES = "sesMailRequired"

Grant = tuple[str, str]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def ref_name(value: Any) -> str | None:
    """'X' for {Ref: X} or {Fn::GetAtt: [X, ...]}; None otherwise."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else target.split(".")[0]
    return None


def arn_target(resource: Any) -> str:
    """'Table' for the table's Arn, 'Table/index/Name' for an index ARN built from it."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        assert resource["Fn::GetAtt"][1] == "Arn", resource
        return str(ref_name(resource))
    if isinstance(resource, dict) and "Fn::Join" in resource:
        separator, parts = resource["Fn::Join"]
        return separator.join(arn_target(p) if isinstance(p, dict) else p for p in parts)
    raise AssertionError(f"unexpected DynamoDB resource {resource!r}")


def role_statements(role: dict) -> list[dict]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    ]


def grants_of_role(role: dict) -> set[Grant]:
    """A role's grants as the pin writes them: (DynamoDB verb, table/index/stream) and
    (sqs:Action, queue); logs, secrets and SES left out."""
    granted: set[Grant] = set()
    for statement in role_statements(role):
        assert statement["Effect"] == "Allow", statement
        for action in as_list(statement["Action"]):
            service, _, verb = action.partition(":")
            # Each checked on its own (test_packaging.py): a stage's secrets and SES identity
            # are named by its settings, not by the template's resources.
            if service in ("logs", "secretsmanager", "ses"):
                continue
            for resource in as_list(statement["Resource"]):
                if service == "dynamodb":
                    attribute = (resource.get("Fn::GetAtt") or [None, None])[1]
                    if attribute == "StreamArn":
                        granted.add((verb, f"{ref_name(resource)}/stream"))
                    else:
                        granted.add((verb, arn_target(resource)))
                else:
                    name = ref_name(resource)
                    if name is None:  # a resource written out: "*", an ARN
                        name = resource if isinstance(resource, str) else json.dumps(resource)
                    granted.add((action, name))
    return granted


def grants_of_document(document: dict) -> dict[str, set[Grant]]:
    """Every function's grants in a framework document (`sls local-service`) or template."""
    resources = (document.get("resources") or {}).get("Resources") or document["Resources"]
    return {
        name: grants_of_role(resources[config["role"]])
        for name, config in (document.get("functions") or {}).items()
    }


def current() -> dict[str, dict[str, list[str]]]:
    """The pin as serverless.yml says it now: {"": base, feature: what it adds}, each
    function -> its sorted "action resource" lines (a function with none left out)."""
    from local.serverless import resolved

    path = ROOT / "serverless.yml"
    base = grants_of_document(resolved(path, "local", frozenset()))
    pin = {"": base}
    for feature in FEATURES:
        on = grants_of_document(resolved(path, "local", frozenset({feature})))
        pin[feature] = {name: granted - base.get(name, set()) for name, granted in on.items()}
    every = grants_of_document(resolved(path, "local", frozenset(FEATURES)))
    test = grants_of_document(resolved(path, "test"))
    pin[SES] = {name: granted - every.get(name, set()) for name, granted in test.items()}
    return {
        part: {
            name: sorted(f"{action} {resource}" for action, resource in granted)
            for name, granted in sorted(functions.items())
            if granted
        }
        for part, functions in pin.items()
    }


def pinned() -> dict[str, dict[str, list[str]]]:
    return json.loads(PIN.read_text())


def expected(features: tuple[str, ...] | frozenset[str]) -> dict[str, set[Grant]]:
    """Each function's grants, from the pin, on a stage with `features` on."""
    pin = pinned()
    functions: dict[str, set[Grant]] = {}
    for part in ("", *features):
        for name, granted in pin.get(part, {}).items():
            functions.setdefault(name, set()).update(
                (grant.partition(" ")[0], grant.partition(" ")[2]) for grant in granted
            )
    return functions


def write() -> None:
    PIN.write_text(json.dumps(current(), indent=1) + "\n")


if __name__ == "__main__":  # make grants
    sys.path.insert(0, str(ROOT))
    write()
    print(f"wrote {PIN.relative_to(ROOT)}")
