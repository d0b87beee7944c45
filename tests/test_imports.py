"""Import guard: each handler, imported in a fresh interpreter, loads only what it needs.

A cold start is mostly imports, so a stray import (a test tool, the local dev server, boto3's
resource layer...) is a cold-start regression. No timing here: `make bench` measures time;
this only checks which modules get loaded, which is deterministic.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HANDLERS = [
    "handlers.user.create",
    "handlers.user.get",
    "handlers.user.set",
    "handlers.availability.set",
    "handlers.availability.get",
    "handlers.availability.delete",
    "handlers.availability.book",
    "handlers.meeting.get",
    "handlers.meeting.list",
]
GET_HANDLERS = {
    "handlers.user.get",
    "handlers.availability.get",
    "handlers.meeting.get",
    "handlers.meeting.list",
}

# The one switch for boto3: False while database/ creates its client with boto3, True once it
# uses botocore directly (then boto3, and with it s3transfer, must not load at all).
BOTO3_FORBIDDEN = True

# No handler needs any of these (a name forbids the package and its submodules): test and dev
# tools, the local dev server, the benchmark, SDKs of other services, X-Ray, and boto3's
# high-level resource layer (slow to import; the code uses the low-level client).
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
    "boto3.resources",
    "boto3.dynamodb.table",
    "boto3.dynamodb.conditions",
    "s3transfer",
    *(["boto3"] if BOTO3_FORBIDDEN else []),
]
# GET handlers only read and answer: no JSON-schema/OpenAPI machinery.
FORBIDDEN_FOR_GET = ["pydantic.json_schema"]

# The one exception: a module a handler legitimately depends on may load a forbidden module
# as a side effect of being imported at all (`import boto3` loads boto3.resources and
# s3transfer; pydantic.main imports pydantic.json_schema). What that import *alone* loads is
# tolerated, and only while the handler uses that dependency; anything more is still an error.
UNAVOIDABLE_VIA = ["boto3", "pydantic.main"]


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


@functools.cache
def loaded_by_itself(module: str) -> frozenset[str]:
    """The modules `import module` loads in a fresh interpreter (beyond start-up's own)."""
    result = loaded(
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"import {module}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    return frozenset(result)


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

    modules = set(result["modules"])
    forbidden = FORBIDDEN + (FORBIDDEN_FOR_GET if handler_module in GET_HANDLERS else [])
    tolerated = set()
    for dependency in UNAVOIDABLE_VIA:
        if dependency in modules and not matches(dependency, forbidden):
            tolerated |= loaded_by_itself(dependency)
    stray = sorted(m for m in modules - tolerated if matches(m, forbidden))
    assert not stray, f"{handler_module} imports modules it does not need: {stray}"
