"""A stand-in for Chess.com's Published-Data API (tournaments) under `/_local/chesscom`, for
`make run` with TOURNAMENTS=1: createTournament is pointed at it (CHESSCOM_API_URL).

    GET /_local/chesscom/pub/tournament/{url-ID}   as the PubAPI answers it (404 otherwise)
    PUT /_local/chesscom/{url-ID}                  body: what the PubAPI should answer (JSON)
    PUT /_local/chesscom/_outage                   {"down": true|false}: every GET answers 503
"""

import threading
from typing import Any

from local.events import HttpRequest, HttpResponse, json_body, json_response
from local.standins import Context, Started
from local.tournaments import requested

PATH = "/_local/chesscom"


class ChesscomStandIn:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, Any] = {}  # url-ID -> JSON
        self.down = False

    def handle(self, request: HttpRequest) -> HttpResponse:
        parts = request.raw_path.removeprefix(PATH).strip("/").split("/")
        match request.method, parts:
            case "GET", ["pub", "tournament", id]:
                if self.down:
                    return json_response(503, {"code": 0, "message": "Service Unavailable"})
                with self._lock:
                    answer = self._answers.get(id)
                if answer is None:
                    message = f'Data provider not found for key "/pub/tournament/{id}".'
                    return json_response(404, {"code": 0, "message": message})
                return json_response(200, answer)
            case "PUT", ["_outage"]:
                given = json_body(request)
                if not isinstance(given, dict):
                    return json_response(400, {"message": 'Body must be {"down": true|false}'})
                self.down = bool(given.get("down"))
                return json_response(200, {"down": self.down})
            case "PUT", [id] if id:
                given = json_body(request)
                if not isinstance(given, dict):
                    return json_response(
                        400, {"message": "Body must be a JSON object (the PubAPI's)"}
                    )
                with self._lock:
                    self._answers[id] = given
                return json_response(200, {"stored": f"{PATH}/pub/tournament/{id}"})
        return json_response(404, {"code": 0, "message": "Not found"})


class Chesscom:
    """Its plug (local/standins.py): on with TOURNAMENTS=1; createTournament reaches the site
    at CHESSCOM_API_URL: this stand-in unless the shell names another (CHESSCOM_API_URL=https://api.chess.com)."""

    name = "chesscom"
    feature = "tournaments"
    panel = None  # drawn in the Lichess panel (local/static/console.js, sites)

    def requested(self) -> bool:
        return requested()

    def start(self, context: Context) -> Started:
        url = context.shell.get("CHESSCOM_API_URL") or context.api_url + PATH
        return Started(
            routes={PATH: (ChesscomStandIn().handle, "Chess.com stand-in")},
            banner=[("Chess.com", f"{context.api_url}{PATH} (a stand-in)")],
            environment={"CHESSCOM_API_URL": url},
        )


STAND_IN = Chesscom()
