"""The local HTTP API: API Gateway's part (routing, JWT authorizer, CORS, its own 401/404/500
answers) in front of the functions, plus the local tooling under `/_local/`."""

import logging
import socket
import socketserver
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from local.authorizer import Denied, JwtAuthorizer, as_strings
from local.aws import LISTEN_BACKLOG
from local.cognito import CognitoEndpoint
from local.cors import Cors
from local.events import HttpRequest, HttpResponse, http_event, http_response, json_response
from local.lambdas import FunctionError, Lambdas, ResultTooLarge
from local.routing import Router
from local.serverless import Service

log = logging.getLogger("local")

COGNITO_PATH = "/_local/cognito"

# API Gateway's payload quota: a request body over 10 MB is answered 413, no function runs.
MAX_REQUEST_BODY = 10 * 1024 * 1024
# How long a connection may keep the server waiting for the rest of a request.
READ_TIMEOUT_SECONDS = 10

# A stand-in or control tool mounted under `/_local/<name>`: it answers every request whose
# path is its prefix or below it. `__main__` mounts them (Discord, schedules, ...).
Tool = Callable[[HttpRequest], HttpResponse]


class LocalApi:
    def __init__(
        self,
        service: Service,
        lambdas: Lambdas,
        authorizer: JwtAuthorizer,
        cognito: CognitoEndpoint,
        config: dict[str, str],
        openapi: dict[str, Any],
        tools: Mapping[str, tuple[Tool, str]] | None = None,
    ):
        self.service = service
        self.lambdas = lambdas
        self.authorizer = authorizer
        self.cognito = cognito
        self.config = config
        self.openapi = openapi
        # Path prefix -> (tool, label for the log), e.g. "/_local/discord".
        self.tools = dict(tools or {})
        self.router = Router(service.routes)
        self.cors = Cors.of(service)

    def handle(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        """The response, and what answered (a function, a Cognito action...) for the log."""
        if request.raw_path.startswith("/_local/"):
            response, label = self._tooling(request)
            # A frontend on another origin reads the config and calls Cognito from the browser.
            return _with_headers(response, _tooling_cors(request)), label
        origin = request.header("origin")
        if self.cors and request.method == "OPTIONS":
            return HttpResponse(204, self.cors.preflight_headers(origin), b""), "preflight"
        response, label = self._route(request)
        if self.cors:
            response = _with_headers(response, self.cors.response_headers(origin))
        return response, label

    def _route(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        found = self.router.match(request.method, request.raw_path)
        if found is None:
            return _message(404, "Not Found"), "no route"
        route, path_parameters = found
        claims = None
        if route.authorizer:
            token = request.header(self.service.identity_header(route.authorizer))
            try:
                claims = as_strings(self.authorizer.authorize(token, route.scopes))
            except Denied as denied:
                return _message(denied.status, denied.message), f"authorizer: {denied}"
        event = http_event(request, route, path_parameters, claims)
        try:
            result = self.lambdas.invoke(self.service.functions[route.function], event)
            return http_response(result), route.function
        except ResultTooLarge as error:
            # The function ran but its result never reached API Gateway: a bad gateway.
            log.error("%s failed: %s: %s", route.function, error.error_type, error)
            return _message(502, "Internal Server Error"), route.function
        except FunctionError as error:
            # As on Lambda, the function's traceback is in its own log lines.
            log.error("%s failed: %s: %s", route.function, error.error_type, error)
            return _message(500, "Internal Server Error"), route.function
        except Exception:
            # The function crashed (or returned what API Gateway cannot read): API Gateway's
            # own 500; the traceback is in the log, the server keeps serving.
            log.exception("%s failed", route.function)
            return _message(500, "Internal Server Error"), route.function

    def _tooling(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        path = request.raw_path.rstrip("/")
        if request.method == "OPTIONS":
            return HttpResponse(204, [], b""), "preflight"
        if path == COGNITO_PATH and request.method == "POST":
            response, action = self.cognito.handle(request)
            return response, f"Cognito {action}"
        if request.method == "GET" and path == "/_local/config":
            return json_response(200, self.config), "config"
        if request.method == "GET" and path == "/_local/stats":
            return json_response(200, self.lambdas.stats()), "stats"
        if request.method == "GET" and path == "/_local/openapi.json":
            return json_response(200, self.openapi), "openapi"
        # The longest prefix first: "/_local" (the console) answers only what no other does.
        for prefix, (tool, label) in sorted(self.tools.items(), key=lambda t: -len(t[0])):
            if path == prefix or path.startswith(f"{prefix}/"):
                return tool(request), label
        return _message(404, "Not Found"), "no route"


class LocalServer(ThreadedWSGIServer):
    """API Gateway's front door on werkzeug's threaded server: a thread per connection,
    `LISTEN_BACKLOG` connections waiting to be accepted. werkzeug parses the requests
    (chunked bodies included); `_read` answers what API Gateway refuses before any function
    runs, and `api.handle` everything else."""

    api: LocalApi  # set once bound: the API's configuration names the bound port

    def __init__(self, listener: socket.socket):
        host, port = listener.getsockname()[:2]
        super().__init__(host, port, self._serve, handler=_Handler, fd=listener.fileno())
        listener.close()  # werkzeug serves a duplicate of it

    def _serve(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        started = time.perf_counter()
        request = _read(environ)
        if isinstance(request, HttpResponse):
            response, label = request, "refused by the gateway"
        else:
            try:
                response, label = self.api.handle(request)
            except Exception:  # a stand-in or tool that crashed: logged, the server goes on
                log.exception("%s %s failed", request.method, request.raw_path)
                response, label = _message(500, "Internal Server Error"), "crashed"
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {_reason(response.status)}", headers)
        elapsed = (time.perf_counter() - started) * 1000
        method, path = environ["REQUEST_METHOD"], environ[_TARGET].partition("?")[0]
        log.info("%s %s %d %.0fms %s", method, path, response.status, elapsed, label)
        return [b"" if method == "HEAD" else response.body]

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        # werkzeug's own swallows Ctrl-C and closes the socket; the caller decides both.
        socketserver.BaseServer.serve_forever(self, poll_interval)


def bind(port: int) -> LocalServer:
    """A threaded server on 127.0.0.1:`port` (0: any free port), not serving yet. A port in
    use raises OSError (werkzeug would print and exit)."""
    return LocalServer(socket.create_server(("127.0.0.1", port), backlog=LISTEN_BACKLOG))


# What werkzeug's environ loses and the payload 2.0 event needs: the request target as sent
# and every header as received (werkzeug joins repeated ones and drops names with `_`).
_TARGET, _HEADERS = "local.target", "local.headers"


class _Handler(WSGIRequestHandler):
    # A client that stops sending mid-request (a truncated body, a Content-Length larger than
    # what it sends) holds its thread this long, then gets a 400, as API Gateway would not wait.
    timeout = READ_TIMEOUT_SECONDS

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[_TARGET] = self.path
        environ[_HEADERS] = list(self.headers.items())
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: LocalServer logs one line per request, with what answered it."""


def _read(environ: dict[str, Any]) -> HttpRequest | HttpResponse:
    """The request, or API Gateway's answer when it refuses one: its framing broken (400) or
    its body over API Gateway's 10 MB (413). The body is read whole, as API Gateway buffers
    it before invoking anything."""
    stream = environ["wsgi.input"]
    try:
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug de-chunks it
            body = stream.read(MAX_REQUEST_BODY + 1)
        else:
            declared = environ.get("CONTENT_LENGTH") or "0"
            if not (declared.isascii() and declared.isdigit()):
                return _message(400, "Bad Request")
            length = int(declared)
            if length > MAX_REQUEST_BODY:
                return _message(413, "Request Entity Too Large")
            body = stream.read(length) if length else b""
            if len(body) < length:  # the client closed before sending it all
                return _message(400, "Bad Request")
    except OSError:  # a timeout, a broken chunk, the connection gone
        return _message(400, "Bad Request")
    if len(body) > MAX_REQUEST_BODY:
        return _message(413, "Request Entity Too Large")
    return HttpRequest(
        method=environ["REQUEST_METHOD"],
        target=environ[_TARGET],
        headers=environ[_HEADERS],
        body=body,
        source_ip=environ["REMOTE_ADDR"],
        protocol=environ["SERVER_PROTOCOL"],
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a function may answer any status code
        return ""


def _with_headers(response: HttpResponse, cors: list[tuple[str, str]]) -> HttpResponse:
    # API Gateway's CORS headers replace any the function set.
    kept = [(n, v) for n, v in response.headers if not n.lower().startswith("access-control-")]
    return HttpResponse(response.status, kept + cors, response.body)


def _tooling_cors(request: HttpRequest) -> list[tuple[str, str]]:
    """CORS for `/_local/`, as Cognito's endpoint answers: any origin, whatever headers the
    AWS SDK or Amplify ask for, and the error headers readable."""
    headers = [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers", "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage"),
    ]
    if request.method == "OPTIONS":
        requested = request.header("access-control-request-headers")
        headers += [
            ("Access-Control-Allow-Methods", "GET,POST,OPTIONS"),
            ("Access-Control-Allow-Headers", requested or "*"),
        ]
    return headers


def _message(status: int, message: str) -> HttpResponse:
    """API Gateway's own error responses: `{"message": "Not Found"}`."""
    return json_response(status, {"message": message})
