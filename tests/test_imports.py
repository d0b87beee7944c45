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

ROOT = Path(__file__).resolve().parent.parent

# Every function serverless.yml deploys, so a new one is checked as soon as it is declared.
HANDLERS = sorted({function.module for function in SERVICE.functions.values()})
# No handler needs any of these (a name forbids the package and its submodules): test and dev
# tools, the local dev server, the benchmark, SDKs of other services, X-Ray, boto3 (the code
# uses botocore's low-level client; boto3 would also load s3transfer), and pydantic with its
# validation and JSON-schema machinery (database/schema.py is the published description only;
# the functions validate with database/models.py).
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
    "database.schema",
    "notifications",
]
# What one function may load although the others must not: the notify function talks to
# Discord (requests, and its package notifications/); no API function does.
ALLOWED = {"handlers.stream.notify": ["requests", "notifications"]}


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
    stray = sorted(m for m in result["modules"] if matches(m, forbidden))
    assert not stray, f"{handler_module} imports modules it does not need: {stray}"
