"""Unit tests of the local stack's API Gateway part: serverless.yml reading, routing, payload
2.0 events and responses, the JWT authorizer, and how a crashing function is answered."""

import base64
import http.client
import json
import logging
import socket
import threading
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local import iam, serverless
from local import server as server_module
from local.authorizer import Denied, JwtAuthorizer, as_strings
from local.events import HttpRequest, http_event, http_response
from local.lambdas import Lambdas
from local.routing import Router
from local.server import LocalApi, bind
from local.serverless import ROOT, Function, Route, Service

SERVERLESS_YML = """
service: svc
plugins:
  - ./config/plugins/local-service
provider:
  name: aws
  stage: ${opt:stage, 'dev'}
  environment:
    TABLE: !Ref Table
    LEVEL: ${self:custom.level, 'INFO'}
    MISSING: ${self:custom.nothing, 'fallback'}
    NAME: ${self:service}-${sls:stage}
  httpApi:
    authorizers:
      jwt:
        type: jwt
        identitySource: $request.header.X-Token
        issuerUrl: https://issuer.example
        audience: [client]
custom:
  level: DEBUG
functions:
  hello:
    handler: handlers/hello.handler
    timeout: 3
    events:
      - httpApi: 'GET /hello'
      - httpApi: {method: '*', path: '/any/{proxy+}', authorizer: {name: jwt, scopes: [read]}}
resources:
  Resources:
    Table:
      Type: AWS::DynamoDB::Table
      Properties:
        TableName: ${sls:stage}-things
    Pool:
      Type: AWS::Cognito::UserPool
      Properties:
        LambdaConfig:
          PostConfirmation: !GetAtt HelloLambdaFunction.Arn
"""


def _service(directory: Path, serverless_yml: str) -> None:
    """A service of its own in `directory`, read by the framework as ours is (its plugin)."""
    (directory / "serverless.yml").write_text(serverless_yml)
    plugin = ROOT / "config" / "plugins" / "local-service.js"
    (directory / "config" / "plugins").mkdir(parents=True)
    (directory / "config" / "plugins" / plugin.name).write_bytes(plugin.read_bytes())


def test_serverless_yml_is_read_with_tags_and_variables(tmp_path: Path):
    _service(tmp_path, SERVERLESS_YML)
    service = serverless.load(tmp_path / "serverless.yml", "local")
    assert service.environment() == {
        "TABLE": "local-things",
        "LEVEL": "DEBUG",
        "MISSING": "fallback",
        "NAME": "svc-local",
    }
    assert service.routes == [
        Route("GET", "/hello", "hello", None),
        Route("ANY", "/any/{proxy+}", "hello", "jwt", ("read",)),
    ]
    assert service.functions["hello"] == Function("hello", "handlers.hello", "handler", 1024, 3)
    assert service.identity_header("jwt") == "x-token"
    assert service.post_confirmation_function() == service.functions["hello"]


def test_routes_match_with_api_gateways_precedence():
    router = Router(
        [
            Route("ANY", "/{proxy+}", "catchAll", None),
            Route("PUT", "/availability/{id}", "replace", None),
            Route("PUT", "/availability/book", "book", None),
        ]
    )
    assert router.match("PUT", "/availability/book")[0].function == "book"
    assert router.match("PUT", "/availability/a%20b") == (
        Route("PUT", "/availability/{id}", "replace", None),
        {"id": "a b"},
    )
    assert router.match("GET", "/availability/x")[1] == {"proxy": "availability/x"}
    assert Router([Route("GET", "/user", "getUser", None)]).match("POST", "/user") is None


def _request(**overrides) -> HttpRequest:
    fields = {
        "method": "GET",
        "target": "/meeting/m1?limit=5&tag=a&tag=b&plus=x%2By&blank",
        "headers": [
            ("Host", "127.0.0.1:4000"),
            ("X-Multi", "a"),
            ("x-multi", "b"),
            ("Cookie", "a=1; b=2"),
            ("User-Agent", "test"),
        ],
        "body": b"",
        "source_ip": "127.0.0.1",
        "protocol": "HTTP/1.1",
    }
    return HttpRequest(**{**fields, **overrides})


def test_a_request_becomes_a_payload_2_event():
    route = Route("GET", "/meeting/{id}", "getMeeting", "jwt")
    event = http_event(_request(), route, {"id": "m1"}, {"cognito:username": "alice"})
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /meeting/{id}"
    assert event["rawPath"] == "/meeting/m1"
    assert event["rawQueryString"] == "limit=5&tag=a&tag=b&plus=x%2By&blank"
    assert event["queryStringParameters"] == {
        "limit": "5",
        "tag": "a,b",
        "plus": "x+y",
        "blank": "",
    }
    assert event["pathParameters"] == {"id": "m1"}
    assert event["headers"]["x-multi"] == "a,b"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"]
    assert "body" not in event and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "$default"
    assert context["http"] == {
        "method": "GET",
        "path": "/meeting/m1",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "test",
    }
    assert context["authorizer"]["jwt"] == {"claims": {"cognito:username": "alice"}, "scopes": None}
    assert abs(context["timeEpoch"] - time.time() * 1000) < 5000


def test_bodies_are_text_or_base64():
    route = Route("PUT", "/user", "setUser", None)
    text = http_event(_request(method="PUT", body='{"a": "é"}'.encode()), route, {}, None)
    assert (text["body"], text["isBase64Encoded"]) == ('{"a": "é"}', False)
    assert "authorizer" not in text["requestContext"]
    binary = http_event(_request(method="PUT", body=b"\xff\x00"), route, {}, None)
    assert (binary["body"], binary["isBase64Encoded"]) == ("/wA=", True)


def test_function_results_are_read_as_api_gateway_does():
    plain = http_response({"hello": "world"})
    assert (plain.status, json.loads(plain.body)) == (200, {"hello": "world"})
    assert ("Content-Type", "application/json") in plain.headers
    full = http_response(
        {
            "statusCode": 201,
            "headers": {"X-A": "1"},
            "cookies": ["s=1"],
            "body": base64.b64encode(b"\x00hi").decode(),
            "isBase64Encoded": True,
        }
    )
    assert (full.status, full.body) == (201, b"\x00hi")
    assert full.headers == [("X-A", "1"), ("Set-Cookie", "s=1")]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A key pair whose public half is served as a JWKS (from a file: URL)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwks = tmp_path_factory.mktemp("jwks") / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256"}]}))
    return private, jwks.as_uri()


ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test"


def _token(private, **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "client", "iat": now, "exp": now + 60, **claims}
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, private, algorithm="RS256", headers={"kid": "k1"})


def test_the_authorizer_accepts_id_and_access_tokens(keys):
    private, jwks_url = keys
    authorizer = JwtAuthorizer(jwks_url, ISSUER, ["client"])
    assert authorizer.authorize(f"Bearer {_token(private, sub='a')}")["sub"] == "a"
    assert authorizer.authorize(_token(private, sub="a"))["sub"] == "a"  # no "Bearer "
    access = _token(private, aud=None, client_id="client", scope="read write")
    assert authorizer.authorize(access, scopes=["read"])["client_id"] == "client"


@pytest.mark.parametrize(
    ("claims", "scopes", "status"),
    [
        ({"exp": int(time.time()) - 1}, (), 401),
        ({"aud": "another"}, (), 401),
        ({"iss": "https://elsewhere"}, (), 401),
        ({"scope": "write"}, ("read",), 403),
    ],
)
def test_the_authorizer_denies(keys, claims, scopes, status):
    private, jwks_url = keys
    with pytest.raises(Denied) as denied:
        JwtAuthorizer(jwks_url, ISSUER, ["client"]).authorize(_token(private, **claims), scopes)
    assert denied.value.status == status


def test_the_authorizer_denies_foreign_and_unsigned_tokens(keys):
    _, jwks_url = keys
    authorizer = JwtAuthorizer(jwks_url, ISSUER, ["client"])
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    hmac = jwt.encode({"iss": ISSUER, "aud": "client"}, "secret", headers={"kid": "k1"})
    for token in (None, "", "junk", _token(stranger), hmac):
        with pytest.raises(Denied):
            authorizer.authorize(token)


def test_claims_reach_the_function_as_strings():
    claims = {"exp": 17, "email_verified": True, "cognito:groups": ["a", "b"], "sub": "x"}
    assert as_strings(claims) == {
        "exp": "17",
        "email_verified": "true",
        "cognito:groups": "[a b]",
        "sub": "x",
    }


def crashing(event, context):
    raise RuntimeError("boom")


def echo(event, context):
    return {"event": event, "function": context.function_name}


def test_a_crashing_function_is_a_500_and_the_server_goes_on(caplog):
    service = Service(name="svc", stage="t", document={"provider": {"httpApi": {"cors": True}}})
    for name in ("crashing", "echo"):
        service.functions[name] = Function(name, __name__, name, 128, 3)
        service.routes.append(Route("GET", f"/{name}", name, None))
    api = LocalApi(service, Lambdas(service), None, None, {}, {})

    with caplog.at_level(logging.ERROR, logger="local"):
        crashed, _ = api.handle(_request(target="/crashing"))
    assert (crashed.status, json.loads(crashed.body)) == (500, {"message": "Internal Server Error"})
    assert "RuntimeError: boom" in caplog.text
    assert ("Access-Control-Allow-Origin", "*") in crashed.headers

    echoed, label = api.handle(_request(target="/echo"))
    assert (echoed.status, label) == (200, "echo")
    body = json.loads(echoed.body)
    assert body["function"] == "svc-t-echo"
    assert body["event"]["routeKey"] == "GET /echo"


CACHED_YML = """
service: svc
plugins:
  - ./config/plugins/local-service
provider:
  name: aws
  environment:
    LEVEL: ${env:ONEREADING_LEVEL, 'INFO'}
    CLUB: ${file(./config/${sls:stage}.yml):club}
functions:
  hello:
    handler: handlers/hello.handler
"""


def test_the_frameworks_reading_is_cached_by_what_it_is_read_from(tmp_path: Path, monkeypatch):
    # The framework reads serverless.yml once; later sessions take its document from
    # .serverless/ until serverless.yml, config/**, a secret file or an env var it reads changes.
    _service(tmp_path, CACHED_YML)
    (tmp_path / "config" / "local.yml").write_text("club: Dojo\n")
    monkeypatch.delenv("ONEREADING_LEVEL", raising=False)
    path = tmp_path / "serverless.yml"
    assert serverless.load(path, "local").environment() == {"LEVEL": "INFO", "CLUB": "Dojo"}

    framework = serverless.SLS
    monkeypatch.setattr(serverless, "SLS", tmp_path / "no-framework")
    assert serverless.load(path, "local").environment() == {"LEVEL": "INFO", "CLUB": "Dojo"}

    monkeypatch.setenv("ONEREADING_LEVEL", "DEBUG")  # a variable serverless.yml reads
    with pytest.raises(RuntimeError, match="npm ci"):
        serverless.load(path, "local")
    monkeypatch.setenv("UNRELATED", "1")  # one it does not: no new reading for it
    monkeypatch.setattr(serverless, "SLS", framework)
    assert serverless.load(path, "local").environment() == {"LEVEL": "DEBUG", "CLUB": "Dojo"}

    (tmp_path / "config" / "local.yml").write_text("club: Other\n")
    assert serverless.load(path, "local").environment() == {"LEVEL": "DEBUG", "CLUB": "Other"}
    monkeypatch.setattr(serverless, "SLS", tmp_path / "no-framework")
    monkeypatch.setenv("UNRELATED", "2")
    assert serverless.load(path, "local").environment()["CLUB"] == "Other"
    assert len(list((tmp_path / ".serverless" / "local-service" / "local").iterdir())) == 1


def test_without_a_feature_its_functions_and_routes_are_left_out():
    # `make run` without a Stripe key is a stage without payments, as `simple` is on AWS.
    path = Path(__file__).resolve().parents[2] / "serverless.yml"
    off = serverless.load(path, "local", frozenset())
    on = serverless.load(path, "local", frozenset({"payments"}))

    assert "stripeWebhook" in on.functions and "stripeWebhook" not in off.functions
    streams_and_triggers = {
        "createUser",
        "notify",
        "countStatistics",
        "extendSeries",
        "planReminders",
        "sendReminders",
    }
    assert {route.function for route in off.routes} == set(off.functions) - streams_and_triggers
    assert "POST /stripe/webhook" in {route.key for route in on.routes}
    # A function's `withFeature` is merged only where the feature is on (by the framework's
    # plugin, config/plugins/stage-features.js): its environment and its role's grants.
    assert "STRIPE_SECRET_NAME" in on.environment()
    assert "STRIPE_SECRET_NAME" not in off.environment()
    payments = "arn:aws:dynamodb:us-east-1:123456789012:table/local-payments"
    for service, granted in ((on, True), (off, False)):
        resources = str(iam.role(service, "cancelMeeting").statements)
        assert (payments in resources) is granted


# --- the HTTP front end (werkzeug): what API Gateway answers before any function runs ---


def big_result(event, context):
    """A result over Lambda's 6 MB quota for what a function returns."""
    return {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 200)}


@pytest.fixture(scope="module")
def gateway():
    """A LocalServer serving echo, big_result and crashing on a free port; its address."""
    service = Service(name="svc", stage="t", document={"provider": {"httpApi": {"cors": True}}})
    for name in ("echo", "big_result", "crashing"):
        service.functions[name] = Function(name, __name__, name, 128, 3)
        service.routes.append(Route("ANY", f"/{name}", name, None))
    server = bind(0)
    server.api = LocalApi(service, Lambdas(service, concurrency=2), None, None, {}, {})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()
    server.api.lambdas.close()


def raw_exchange(address, data: bytes, *, half_close: bool = True) -> tuple[int, dict, bytes]:
    """Sends `data` as is on a new connection; the status, headers and body answered."""
    with socket.create_connection(address, timeout=30) as connection:
        connection.sendall(data)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def call(address, method: str, path: str, body: bytes = b"", headers=None):
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


BAD_REQUEST = (400, {"message": "Bad Request"})


@pytest.mark.parametrize(
    "head",
    [
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n{}",
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}",  # truncated
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}",  # cut
    ],
)
def test_broken_framing_is_a_400_and_the_server_goes_on(gateway, head, caplog):
    with caplog.at_level(logging.INFO, logger="local"):
        status, headers, body = raw_exchange(gateway, head)
    assert (status, json.loads(body)) == BAD_REQUEST
    assert "PUT /echo 400" in caplog.text and "Traceback" not in caplog.text
    assert call(gateway, "GET", "/echo")[0] == 200


def test_a_client_that_stops_sending_gets_a_400_not_a_blocked_thread(gateway, monkeypatch):
    monkeypatch.setattr(server_module._Handler, "timeout", 0.5)
    started = time.monotonic()
    status, _, body = raw_exchange(
        gateway, b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}", half_close=False
    )
    assert (status, json.loads(body)) == BAD_REQUEST
    assert time.monotonic() - started < 5


def test_a_chunked_body_reaches_the_function(gateway):
    request = (
        b"PUT /echo?a=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b'X_Under: kept\r\n\r\n4\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    status, _, body = raw_exchange(gateway, request)
    event = json.loads(body)["event"]
    assert (status, event["body"], event["rawQueryString"]) == (200, '{"a": 1}', "a=1")
    assert event["headers"]["x_under"] == "kept"  # werkzeug's environ would drop it


def test_bodies_over_api_gateways_10_mb_are_a_413(gateway, caplog):
    with caplog.at_level(logging.INFO, logger="local"):
        status, _, body = call(gateway, "PUT", "/echo", b"x" * (10 * 1024 * 1024 + 1))
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})
    assert "svc-t-echo" not in caplog.text  # no function ran
    declared = b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
    assert raw_exchange(gateway, declared)[0] == 413  # refused before any byte of the body


def test_lambdas_payload_quota_as_api_gateway_answers_it(gateway):
    # Over 6 MB of event (and under 10 MB of body): Lambda refuses the invocation, a 500.
    status, _, body = call(gateway, "PUT", "/echo", b"x" * (6 * 1024 * 1024 + 1))
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert call(gateway, "PUT", "/echo", b"x" * (6 * 1024 * 1024 - 2048))[0] == 200
    # Over 6 MB of result: the function ran, API Gateway got nothing it can use, a 502.
    status, _, body = call(gateway, "GET", "/big_result")
    assert (status, json.loads(body)) == (502, {"message": "Internal Server Error"})


def test_methods_head_and_one_log_line_per_request(gateway, caplog):
    with caplog.at_level(logging.INFO, logger="local"):
        status, _, body = call(gateway, "TRACE", "/echo")
        assert (status, json.loads(body)) == (200, json.loads(body))  # ANY route: reaches it
        status, _, body = call(gateway, "BREW", "/nowhere")
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})
        status, headers, body = call(gateway, "HEAD", "/echo")
        assert (status, body) == (200, b"") and int(headers["Content-Length"]) > 0
        status, _, body = call(gateway, "GET", "/crashing")
        assert status == 500
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage()[:5] in ("TRACE", "BREW ", "HEAD ", "GET /")
    ]
    assert len(lines) == 4, lines
    assert lines[1].startswith("BREW /nowhere 404 ") and lines[1].endswith("no route")


def test_bind_raises_on_a_port_in_use_and_a_stop_is_quick():
    server = bind(0)
    with pytest.raises(OSError):
        bind(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    started = time.monotonic()
    server.shutdown()
    thread.join(5)
    server.server_close()
    assert not thread.is_alive() and time.monotonic() - started < 2
