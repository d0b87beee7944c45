"""A stand-in for Chess.com's Published-Data API (tournaments) under `/_local/chesscom`, for
`make run` with TOURNAMENTS=1: createTournament is pointed at it (CHESSCOM_API_URL).

    GET /_local/chesscom/pub/tournament/{url-ID}   as the PubAPI answers it (404 otherwise)
    PUT /_local/chesscom/{url-ID}                  body: what the PubAPI should answer (JSON)
    PUT /_local/chesscom/_outage                   {"down": true|false}: every GET answers 503
"""

import json
import threading
from typing import Any

from local.events import HttpRequest, HttpResponse

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
                    return _json(503, {"code": 0, "message": "Service Unavailable"})
                with self._lock:
                    answer = self._answers.get(id)
                if answer is None:
                    message = f'Data provider not found for key "/pub/tournament/{id}".'
                    return _json(404, {"code": 0, "message": message})
                return _json(200, answer)
            case "PUT", ["_outage"]:
                given = _body(request)
                if not isinstance(given, dict):
                    return _json(400, {"message": 'Body must be {"down": true|false}'})
                self.down = bool(given.get("down"))
                return _json(200, {"down": self.down})
            case "PUT", [id] if id:
                given = _body(request)
                if not isinstance(given, dict):
                    return _json(400, {"message": "Body must be a JSON object (the PubAPI's)"})
                with self._lock:
                    self._answers[id] = given
                return _json(200, {"stored": f"{PATH}/pub/tournament/{id}"})
        return _json(404, {"code": 0, "message": "Not found"})


def _body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())
