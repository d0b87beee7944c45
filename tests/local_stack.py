"""`python -m local` in a subprocess, for the tests that use the stack as a frontend does."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Local-pass-1"


@dataclass
class Stack:
    config: dict[str, str]
    output: Path

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """Status, headers (lower-case names) and JSON body (None when empty)."""
        request = urllib.request.Request(
            self.config["apiUrl"] + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw, text = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, raw, text = error.code, error.headers, error.read()
        return status, {k.lower(): v for k, v in raw.items()}, json.loads(text) if text else None

    def cognito(self):
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.config["cognitoEndpoint"],
            region_name=self.config["region"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def sign_up_and_in(self, username: str, *, admin_confirm: bool = False) -> dict[str, str]:
        """The user's AuthenticationResult (IdToken, AccessToken, ...)."""
        cognito, client_id = self.cognito(), self.config["userPoolClientId"]
        cognito.sign_up(
            ClientId=client_id,
            Username=username,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}],
        )
        if admin_confirm:
            cognito.admin_confirm_sign_up(UserPoolId=self.config["userPoolId"], Username=username)
        else:  # any code is accepted locally
            cognito.confirm_sign_up(ClientId=client_id, Username=username, ConfirmationCode="42")
        return cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _shell_environment() -> dict[str, str]:
    """This process's environment without what conftest.py sets for in-process handler tests
    (AWS settings, table names, a quieter log level): `make run` starts from a shell."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "POWERTOOLS_")) and not name.endswith("_TABLE")
    }


@contextmanager
def running_stack(directory: Path, **settings: str) -> Iterator[Stack]:
    """`make run` on a free port (no demo data), its output in `directory`/output.log;
    `settings`: more of the shell's environment (e.g. LOCAL_ADMINS)."""
    port = free_port()
    output = directory / "output.log"
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env={**_shell_environment(), "PORT": str(port), "SEED": "0", **settings},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the stack exited with {process.returncode}:\n{output.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the stack did not answer within 60 s:\n{output.read_text()}")
            try:
                url = f"http://127.0.0.1:{port}/_local/config"
                with urllib.request.urlopen(url, timeout=1) as response:
                    config = json.load(response)
                break
            except OSError:
                time.sleep(0.2)
        yield Stack(config, output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
