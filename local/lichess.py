"""A stand-in for Lichess's tournament API under `/_local/lichess`, for `make run` with
TOURNAMENTS=1: createTournament is pointed at it (LICHESS_API_URL) and reads it with requests as
it reads lichess.org.

    GET /_local/lichess/api/tournament/{id}   an arena, as Lichess answers it (404 otherwise)
    GET /_local/lichess/api/swiss/{id}        a Swiss
    PUT /_local/lichess/{arena|swiss}/{id}    body: what Lichess should answer for it (JSON,
                                              in Lichess's shape)
    PUT /_local/lichess/_outage               {"down": true|false}: every GET answers 503
    GET /_local/lichess                       the fixtures set and the outage (the console's)
"""

import threading
from typing import Any

from local.events import HttpRequest, HttpResponse, json_body, json_response
from local.standins import Context, Panel, Started
from local.tournaments import requested

PATH = "/_local/lichess"
_KINDS = {"arena": "tournament", "swiss": "swiss"}  # control path -> Lichess's API path


class LichessStandIn:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], Any] = {}  # (api path, id) -> JSON
        self.down = False

    def handle(self, request: HttpRequest) -> HttpResponse:
        parts = request.raw_path.removeprefix(PATH).strip("/").split("/")
        match request.method, parts:
            case "GET", [""]:  # the console's panel: its fixtures (a 404 would read as "off")
                with self._lock:
                    fixtures = [
                        {"path": f"api/{k}/{i}", "answer": a} for (k, i), a in self._answers.items()
                    ]
                return json_response(200, {"down": self.down, "fixtures": fixtures})
            case "GET", ["api", kind, id] if kind in _KINDS.values():
                if self.down:
                    return json_response(503, {"error": "Lichess is down for maintenance"})
                with self._lock:
                    answer = self._answers.get((kind, id))
                if answer is None:
                    return json_response(404, {"error": "Not found"})
                return json_response(200, answer)
            case "PUT", ["_outage"]:
                given = json_body(request)
                if not isinstance(given, dict):
                    return json_response(400, {"error": 'Body must be {"down": true|false}'})
                self.down = bool(given.get("down"))
                return json_response(200, {"down": self.down})
            case "PUT", [kind, id] if kind in _KINDS and id:
                given = json_body(request)
                if not isinstance(given, dict):
                    return json_response(
                        400, {"error": "Body must be a JSON object (Lichess's answer)"}
                    )
                with self._lock:
                    self._answers[(_KINDS[kind], id)] = given
                return json_response(200, {"stored": f"{PATH}/api/{_KINDS[kind]}/{id}"})
        return json_response(404, {"error": "Not found"})


class Lichess:
    """Its plug (local/standins.py): on with TOURNAMENTS=1; createTournament reaches the site
    at LICHESS_API_URL: this stand-in unless the shell names another (LICHESS_API_URL=https://lichess.org)."""

    name = "lichess"
    feature = "tournaments"
    panel = Panel(
        "Tournament sites (Lichess, Chess.com) and the bot's MongoDB",
        PATH,
        "Tournaments are off: start with TOURNAMENTS=1.",
        render="sites",
    )

    def requested(self) -> bool:
        return requested()

    def start(self, context: Context) -> Started:
        url = context.shell.get("LICHESS_API_URL") or context.api_url + PATH
        return Started(
            routes={PATH: (LichessStandIn().handle, "Lichess stand-in")},
            banner=[("Lichess", f"{context.api_url}{PATH} (a stand-in)")],
            environment={"LICHESS_API_URL": url},
        )


STAND_IN = Lichess()
