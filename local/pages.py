"""`make run`'s pages: interactive API docs at `/_local/docs` and a console at `/_local/`.

Both are static files in local/static, served by the stack itself, so they work offline and
need no build step. The docs page is Swagger UI on the stage's generated OpenAPI; its bundle
comes from the pinned aws-lambda-powertools package (requirements.txt), which ships Swagger UI
for its own event handler. The console only calls the control routes the stand-ins define
(`/_local/discord`, `/_local/stripe`, `/_local/shop`, `/_local/schedule`, ...): it adds no
behaviour of its own, so whatever it does a test can do with plain HTTP. Its stand-ins' sections
are the registered stand-ins' panels (local/standins.py), in `{{PANELS}}`.
"""

import json
import mimetypes
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from local.events import HttpRequest, HttpResponse, json_response

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = "/_local/assets"
# Swagger UI, as pinned by the powertools version in requirements.txt.
_SWAGGER_UI = resources.files("aws_lambda_powertools.event_handler.openapi.swagger_ui")
_FILES = {
    "swagger-ui-bundle.min.js": _SWAGGER_UI / "swagger-ui-bundle.min.js",
    "swagger-ui.min.css": _SWAGGER_UI / "swagger-ui.min.css",
    **{path.name: path for path in STATIC.iterdir() if path.suffix in {".js", ".css", ".png"}},
}


class Pages:
    """The two pages and their assets. `sign_in` is what the sign-in forms start with: the
    demo player's login and password when there is demo data, else empty; `panels` the
    console's stand-in sections (local.standins.console_panels)."""

    def __init__(self, sign_in: dict[str, str], panels: Sequence[dict[str, str]] = ()):
        self.sign_in = json.dumps(sign_in)
        self.panels = json.dumps(list(panels))

    def console(self, request: HttpRequest) -> HttpResponse:
        """`/_local/` (mounted at `/_local`: it answers that path only)."""
        return self._page("console", request, "/_local")

    def docs(self, request: HttpRequest) -> HttpResponse:
        return self._page("docs", request, "/_local/docs")

    def _page(self, name: str, request: HttpRequest, path: str) -> HttpResponse:
        if request.method != "GET" or request.raw_path.rstrip("/") != path:
            return _not_found()
        html = (STATIC / f"{name}.html").read_text().replace("{{SIGN_IN}}", self.sign_in)
        html = html.replace("{{PANELS}}", self.panels)
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")]
        return HttpResponse(200, headers, html.encode())

    def asset(self, request: HttpRequest) -> HttpResponse:
        name = request.raw_path.removeprefix(ASSETS).strip("/")
        if request.method != "GET" or name not in _FILES:
            return _not_found()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        headers = [("Content-Type", kind), ("Cache-Control", "no-cache")]
        return HttpResponse(200, headers, _FILES[name].read_bytes())


def _not_found() -> HttpResponse:
    return json_response(404, {"message": "Not Found"})
