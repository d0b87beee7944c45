"""One Lambda execution environment: a process that imports one function's handler once (its
cold start) and then runs one invocation at a time, as Lambda's Python runtime does.

    python -m local.runtime FD SPEC   # started by local.lambdas; FD: its end of a socket pair

Over the socket, one JSON document per line: the environment says `{"ready": true}` once the
handler is imported, then answers each `{"event": ...}` with `{"result": ...}`; a failure is
Lambda's `{"errorType", "errorMessage"}`, its traceback in the log. The ready message, and any
answer after which more of the project was imported, carry `"code"`: the project's files this
process runs (under the spec's `watch` folders) and their modification times. The handler's
own output (its JSON log lines) goes to this process's stdout and stderr, which are the
stack's. Imports nothing the functions do not (but local/iam.py, standard library and
botocore, which enforces the function's IAM role on its AWS calls): what the handler's module
imports is its cold start.
"""

import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from local import iam


class LambdaContext:
    """The context object the Lambda runtime passes to a Python handler."""

    def __init__(self, spec: dict[str, Any], log_stream_name: str):
        self.function_name = spec["functionName"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["functionArn"]
        self.memory_limit_in_mb = spec["memory"]
        self.aws_request_id = str(uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = log_stream_name  # one per environment, as on Lambda
        self._deadline = time.monotonic() + spec["timeout"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> int:
    # Ctrl-C in the terminal reaches the whole process group: the stack stops its
    # environments itself (closing the socket ends the loop below), without a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = socket.socket(fileno=int(sys.argv[1]))
    spec = json.loads(sys.argv[2])
    reader, writer = channel.makefile("rb"), channel.makefile("wb")

    def send(message: dict[str, Any]) -> None:
        try:
            line = json.dumps(message)
        except (TypeError, ValueError) as error:
            line = json.dumps(_error(error, "Runtime.MarshalError"))
        writer.write(line.encode() + b"\n")
        writer.flush()

    # The function's role, on every AWS call from here on (its imports' included).
    role = iam.Role.from_json(spec["role"])
    iam.install(lambda: role, spec["partitionKeys"])
    try:
        handler = getattr(importlib.import_module(spec["module"]), spec["attribute"])
    except Exception as error:
        send(_error(error, "Runtime.ImportModuleError"))
        return 1
    log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid4().hex}"
    watched = [os.path.join(folder, "") for folder in spec.get("watch", ())]
    code = _code(watched)
    send({"ready": True, "code": code})
    for line in reader:  # ends when the stack closes its end
        event = json.loads(line)["event"]
        try:
            answer = {"result": handler(event, LambdaContext(spec, log_stream_name))}
        except Exception as error:
            answer = _error(error)
        if len(code) != len(now := _code(watched)):  # imported more of the project's code
            code = answer["code"] = now
        send(answer)
    return 0


def _code(watched: list[str]) -> dict[str, int]:
    """The project's source files this process imported (those under the `watched` folders),
    with their modification times: the stack starts a new environment when one changes."""
    code = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(tuple(watched)):
            try:
                code[path] = os.stat(path).st_mtime_ns
            except OSError:
                continue
    return code


def _error(error: Exception, error_type: str | None = None) -> dict[str, str]:
    """Lambda's error answer; the traceback goes to the function's log, as Lambda writes it."""
    error_type = error_type or type(error).__name__
    print(f"[ERROR] {error_type}: {error}\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    return {"errorType": error_type, "errorMessage": str(error)}


if __name__ == "__main__":
    sys.exit(main())
