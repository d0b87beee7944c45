"""schemathesis against `make run`: the published OpenAPI (/_local/openapi.json) says exactly
what the API accepts and returns. Its `run` command, every check and every phase (stateful
included, through the document's links), signed in as a player; zero failures.

tests/schemathesis.toml and tests/schemathesis_hooks.py hold what it is told beyond the
document. The run covers whatever routes serverless.yml has: it reads them from the document.
MAX_EXAMPLES (per operation and phase) sizes it; the run prints how many requests it sent.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_stack import ROOT, Stack, running_stack

TESTS = ROOT / "tests"
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "80"))
# One line per request in the stack's output (local/server.py): "GET /user 200 3ms getUser".
_REQUEST_LINE = re.compile(r" (GET|PUT|POST|PATCH|DELETE|HEAD|OPTIONS|[A-Z]+) \S+ \d{3} \d+ms ")


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    # A stage without payments: a `price` the schema allows is refused unless the coach has a
    # Stripe account that takes charges (state, not schema); tests/e2e/test_local_payments.py
    # drives the payment routes on the stand-in. alice is an admin (her sign-up's email): the
    # admin routes answer her 200, bob 403.
    directory = tmp_path_factory.mktemp("local")
    settings = {"LOCAL_PAYMENTS": "off", "LOCAL_ADMINS": "alice@example.com"}
    with running_stack(directory, settings) as started:
        yield started


def _requests_logged(stack: Stack) -> int:
    return sum(1 for line in stack.output.read_text().splitlines() if _REQUEST_LINE.search(line))


def test_the_api_does_what_its_openapi_says(stack: Stack, tmp_path: Path, capsys):
    tokens = {}
    for name in ("alice", "bob"):
        tokens[name] = stack.sign_up_and_in(name)["IdToken"]
        profile = {"dojoCohort": "1200-1300", "discordUsername": f"{name}#1"}
        assert stack.call("PUT", "/user", tokens[name], profile)[0] == 200
    before = _requests_logged(stack)
    started = time.monotonic()
    command = [
        Path(sys.executable).parent / "schemathesis",
        "--config-file",
        TESTS / "schemathesis.toml",
        "run",
        f"{stack.config['apiUrl']}/_local/openapi.json",
        "--checks=all",
        # Replaced by the hooks' check for API Gateway's 404 (see schemathesis.toml).
        "--exclude-checks=unsupported_method",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--max-examples={MAX_EXAMPLES}",
        "--workers=1",
        "--no-color",
        *(["--seed=1"] if os.environ.get("CI") else []),  # CI: the same run every time
    ]
    environment = {
        **os.environ,
        "ALICE_TOKEN": tokens["alice"],
        "BOB_TOKEN": tokens["bob"],
        "SCHEMATHESIS_OWNER": "alice",
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)]),
    }
    run = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=900
    )
    sent = _requests_logged(stack) - before
    cases = re.search(r"^\s*(\d+ generated.*)$", run.stdout, re.MULTILINE)
    with capsys.disabled():
        print(
            f"\nschemathesis: {sent} requests in {time.monotonic() - started:.0f} s "
            f"({MAX_EXAMPLES} examples per operation and phase; test cases: "
            f"{cases[1] if cases else '?'})"
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert sent > 15 * MAX_EXAMPLES  # a run that matters, not one that stopped early
