"""A browser against `make run`: headless Chromium loads a page from another origin (a frontend on
localhost:<port>, the API on 127.0.0.1:<port>) whose script, amazon-cognito-identity-js bundled
from node_modules by esbuild, signs up, confirms and signs in with SRP, then calls every route
with fetch. CORS, preflights and error bodies are what a browser enforces and sees.

Needs Chromium (Debian's `chromium`, at /usr/bin/chromium or $CHROMIUM): without it the test
is skipped, unless REQUIRE_BROWSER is set (CI sets it), which makes a missing browser a failure.
"""

import functools
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from local_stack import PASSWORD, ROOT, Stack, running_stack

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
# What Chromium needs to run headless as root on a CI machine, and nothing it does on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>frontend</title></head>
<body><script src="frontend.js"></script></body></html>
"""


def _require(path: Path | str, what: str) -> None:
    if Path(path).exists():
        return
    reason = f"{what} is not installed ({path})"
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"{reason}, and REQUIRE_BROWSER is set")
    pytest.skip(f"{reason}: `apt-get install chromium` to run the browser test (.ci/run does)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    _require(CHROMIUM, "Chromium")
    _require(ESBUILD, "esbuild (`make test` installs node_modules)")
    with running_stack(tmp_path_factory.mktemp("local")) as started:
        yield started


@pytest.fixture(scope="module")
def frontend(tmp_path_factory) -> Iterator[str]:
    """The test page and its bundled script, served by a second server: the frontend's origin."""
    site = tmp_path_factory.mktemp("frontend")
    subprocess.run(
        [
            ESBUILD,
            ROOT / "tests" / "browser" / "frontend.js",
            "--bundle",
            "--format=iife",
            "--platform=browser",
            "--define:global=globalThis",  # amazon-cognito-identity-js' dependencies read it
            f"--outfile={site / 'frontend.js'}",
            "--log-level=warning",
        ],
        check=True,
        cwd=ROOT,
    )
    (site / "index.html").write_text(PAGE)
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def seen(stack: Stack, frontend: str) -> dict[str, Any]:
    """What the page's script observed, and the API's responses as the browser received them."""
    from playwright.sync_api import sync_playwright

    api = stack.config["apiUrl"]
    responses: list[tuple[str, str, dict[str, str]]] = []
    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, chromium_sandbox=False, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.on("console", lambda message: console.append(message.text))
            page.on("response", lambda response: _record(response, api, responses))
            page.goto(f"{frontend}/index.html?{urlencode({'api': api, 'password': PASSWORD})}")
            observations = page.evaluate("window.observations")
        finally:
            browser.close()
    assert "failed" not in observations, (observations, console)
    return {**observations, "responses": responses}


def _record(response: Any, api: str, responses: list) -> None:
    if response.url.startswith(api):
        responses.append((response.request.method, response.url, response.all_headers()))


def test_the_page_is_on_another_origin(stack: Stack, frontend: str):
    assert frontend.split(":")[:2] != stack.config["apiUrl"].split(":")[:2]


def test_srp_sign_in_from_the_browser(seen):
    sign_in = seen["signIn"]
    assert sign_in["username"]["token"]
    assert sign_in["emailAlias"]["token"]
    assert sign_in["wrongPassword"] == {"error": "NotAuthorizedException"}
    assert "token" not in sign_in["unknownUser"]


def test_a_player_uses_the_api_from_the_browser(seen):
    calls = seen["calls"]
    assert {name: call.get("status") for name, call in calls.items()} == {
        "getUser": 200,
        "putUser": 200,
        "putAvailability": 200,
        "getAvailability": 200,
        "searchAvailability": 200,
        "book": 200,
        "getMeeting": 200,
        "getMeetings": 200,
        "deleteAvailability": 200,
        "publicUser": 200,
        "unknownRoute": 404,
        "invalidBody": 400,
    }
    assert calls["getUser"]["body"]["username"] == "carol"
    assert calls["putAvailability"]["body"] in calls["searchAvailability"]["body"]["availabilities"]
    assert calls["getMeeting"]["body"]["opponent"]["username"] == "dave"
    assert calls["unknownRoute"]["body"] == {"message": "Not Found"}
    assert {"code", "message"} <= set(calls["invalidBody"]["body"])


def test_every_route_answers_the_browser_errors_included(seen, stack: Stack):
    routes = {observed["route"] for observed in seen["generic"]}
    status, _, document = stack.call("GET", "/_local/openapi.json")
    assert routes == {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    for observed in seen["generic"]:
        anonymous, signed_in = observed["anonymous"], observed["signedIn"]
        assert "networkError" not in anonymous, observed  # the browser read every answer
        assert "networkError" not in signed_in, observed
        if observed["secured"]:
            assert (anonymous["status"], anonymous["body"]) == (
                401,
                {"message": "Unauthorized"},
            ), observed
        assert signed_in["status"] < 500, observed
        if signed_in["status"] >= 400:  # the function's error, readable by the page
            assert {"code", "message"} <= set(signed_in["body"]), observed


def test_every_api_response_carries_cors_headers(seen):
    assert seen["responses"]
    for method, url, headers in seen["responses"]:
        assert headers.get("access-control-allow-origin") == "*", (method, url, headers)
