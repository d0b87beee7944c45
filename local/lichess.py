"""A stand-in for Lichess's tournament API under `/_local/lichess`, for `make run` with
TOURNAMENTS=1: createTournament is pointed at it (LICHESS_API_URL) and reads it with requests as
it reads lichess.org.

    GET /_local/lichess/api/tournament/{id}   an arena, as Lichess answers it (404 otherwise)
    GET /_local/lichess/api/swiss/{id}        a Swiss
    PUT /_local/lichess/{arena|swiss}/{id}    body: what Lichess should answer for it (JSON,
                                              in Lichess's shape)
    PUT /_local/lichess/_outage               {"down": true|false}: every GET answers 503
"""

import threading
from typing import Any

from local.events import HttpRequest, HttpResponse, json_body, json_response

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
