"""What a deployed function receives and returns: API Gateway HTTP API payload 2.0 events,
the Cognito PostConfirmation event, and API Gateway's reading of a function's result (the
Lambda context is local/runtime.py's)."""

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from local.serverless import ACCOUNT_ID, REGION, Route


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query as sent: /availability?byTime=1
    headers: list[tuple[str, str]]  # as received, duplicates included
    body: bytes
    source_ip: str
    protocol: str  # HTTP/1.1

    @property
    def raw_path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def raw_query(self) -> str:
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        return _joined(self.headers).get(name.lower())


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, body: Any) -> HttpResponse:
    """A JSON answer as the stand-ins and the stack's own routes give it."""
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def json_body(request: HttpRequest) -> Any:
    """The request's JSON body; None when it is empty or not JSON, for the caller to refuse."""
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


def http_event(
    request: HttpRequest,
    route: Route,
    path_parameters: dict[str, str],
    claims: dict[str, str] | None,
) -> dict[str, Any]:
    """The payload 2.0 event API Gateway would send the route's function for this request."""
    headers = _joined(request.headers)
    cookie = headers.pop("cookie", None)
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    host = headers.get("host", "")
    headers.setdefault("x-forwarded-port", host.rpartition(":")[2] if ":" in host else "80")
    now = datetime.now(UTC)
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": request.method,
            "path": unquote(request.raw_path),
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        # API Gateway's request ids look like `PfYk3jR4IAMEVfA=`.
        "requestId": base64.b64encode(os.urandom(11)).decode(),
        "routeKey": route.key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if claims is not None:
        scopes = claims.get("scope")
        context["authorizer"] = {
            "jwt": {"claims": claims, "scopes": scopes.split() if scopes else None}
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if cookie:
        event["cookies"] = [part.strip() for part in cookie.split(";") if part.strip()]
    if request.raw_query:
        event["queryStringParameters"] = _joined(
            parse_qsl(request.raw_query, keep_blank_values=True), lower=False
        )
    if path_parameters:
        event["pathParameters"] = path_parameters
    if request.body:
        try:
            event["body"] = request.body.decode()
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    return event


def http_response(result: Any) -> HttpResponse:
    """API Gateway's reading of a payload 2.0 function result. Anything malformed raises, and
    the caller answers 500 as API Gateway would."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # A result without statusCode is taken as the JSON body of a 200.
        return json_response(200, result)
    text = result.get("body") or ""
    body = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode()
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", cookie) for cookie in result.get("cookies") or []]
    return HttpResponse(int(result["statusCode"]), headers, body)


def post_confirmation_event(
    pool_id: str, user_name: str, attributes: dict[str, str], client_id: str
) -> dict[str, Any]:
    """The event Cognito sends the PostConfirmation trigger once a sign-up is confirmed."""
    return {
        "version": "1",
        "region": REGION,
        "userPoolId": pool_id,
        "userName": user_name,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": {**attributes, "cognito:user_status": "CONFIRMED"}},
        "response": {},
    }


def _joined(pairs: list[tuple[str, str]], lower: bool = True) -> dict[str, str]:
    """Name -> value, repeated names comma-joined, as API Gateway does for headers and query."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower() if lower else name
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined
