"""The local HTTP API: API Gateway's part (routing, JWT authorizer, CORS, its own 401/404/500
answers) in front of the functions, plus the local tooling under `/_local/`."""

import json
import logging
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.authorizer import Denied, JwtAuthorizer, as_strings
from local.aws import LISTEN_BACKLOG
from local.cognito import CognitoEndpoint
from local.cors import Cors
from local.events import HttpRequest, HttpResponse, http_event, http_response
from local.lambdas import FunctionError, Lambdas
from local.openapi import docs_page
from local.routing import Router
from local.serverless import Service

log = logging.getLogger("local")

COGNITO_PATH = "/_local/cognito"

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
            return _json(200, self.config), "config"
        if request.method == "GET" and path == "/_local/stats":
            return _json(200, self.lambdas.stats()), "stats"
        if request.method == "GET" and path == "/_local/openapi.json":
            return _json(200, self.openapi), "openapi"
        if request.method == "GET" and path == "/_local/docs":
            page = docs_page(self.service).encode()
            return HttpResponse(200, [("Content-Type", "text/html; charset=utf-8")], page), "docs"
        for prefix, (tool, label) in self.tools.items():
            if path == prefix or path.startswith(f"{prefix}/"):
                return tool(request), label
        return _message(404, "Not Found"), "no route"


class LocalServer(ThreadingHTTPServer):
    api: LocalApi  # set once bound: the API's configuration names the bound port
    # socketserver's default backlog is 5: a burst of connections was reset. A thread per
    # connection serves them; the functions' environments bound the concurrency behind it.
    request_queue_size = LISTEN_BACKLOG


def bind(port: int) -> LocalServer:
    """A threaded server on 127.0.0.1:`port` (0: any free port), not serving yet."""
    return LocalServer(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalServer

    def _serve(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=self.rfile.read(length) if length else b"",
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        response, label = self.server.api.handle(request)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                # The client hung up (a readiness probe, a timeout): nobody left to answer, and
                # nothing wrong with the server, so no traceback.
                self.close_connection = True
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s %d %.0fms %s", self.command, request.raw_path, response.status, elapsed, label
        )

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the API, which answers one it has no route for (TRACE, ...)
        # as API Gateway does, 404 {"message": "Not Found"}, not http.server's 501 page.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: _serve logs one line per request."""


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


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def _message(status: int, message: str) -> HttpResponse:
    """API Gateway's own error responses: `{"message": "Not Found"}`."""
    return _json(status, {"message": message})
