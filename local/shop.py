"""Membership in `make run` (MEMBERSHIP=1), against a stand-in for the club's shop under
`/_local/shop`.

The shop's key goes into the stage's shop secret in the embedded moto, as on AWS
(docs/membership.md, "Setting up a stage"; local.aws.create_secret), and createUser and
getUserAccess read it from there and
ask the shop through membership/shop.py, unchanged: `GET {SHOP_URL}/_functions/user/{email}`
with `Auth: <key>`. SHOP_URL is this stand-in, which answers that path in the shop's shapes (200
`{"user": {"_id"}, "subscriptions": [{"_id"}]}` for a member, the same with `[]` for a customer
whose subscription ended, 404 for an email it does not know), unless the developer gives a real
key (WIX_API_KEY, and SHOP_URL, default https://chessdojo.shop): then the real shop is asked.

Control routes, for a developer or a test:
- `PUT /_local/shop/members/{email}`: the email holds an active subscription from now on;
- `DELETE /_local/shop/members/{email}`: its subscription ended (a customer without one);
- `POST /_local/shop/outage?seconds=N`: every shop call answers 503 for N seconds (0 ends it);
- `GET /_local/shop`: the members, the outage, and every call received (email, status, time).
"""

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from local import aws
from local.events import HttpRequest, HttpResponse, json_response
from local.serverless import Service
from local.standins import Context, Panel, Started

log = logging.getLogger("local")

PATH = "/_local/shop"
KEY = "local"
REAL_SHOP = "https://chessdojo.shop"


def requested() -> bool:
    """Whether the developer asked for membership (MEMBERSHIP=1)."""
    return os.environ.get("MEMBERSHIP", "") == "1"


def enable(service: Service, shell: Mapping[str, str], api_url: str) -> bool:
    """Stores the shop's key in moto's Secrets Manager and points the functions at the shop:
    this stand-in, or the real shop with the developer's WIX_API_KEY. True for the stand-in."""
    real_key = shell.get("WIX_API_KEY", "")
    aws.create_secret(service, "shop", {"wixApiKey": real_key or KEY})
    os.environ["SHOP_URL"] = (shell.get("SHOP_URL") or REAL_SHOP) if real_key else api_url + PATH
    return not real_key


class ShopStandIn:
    def __init__(self, members: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._customers: dict[str, dict[str, Any]] = {}  # by lower-case email
        self._outage_until = 0.0  # time.monotonic()
        self._calls: list[dict[str, Any]] = []
        for email in members:
            self._subscribe(email)

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.raw_path.removeprefix(PATH).rstrip("/")
        parts = [unquote(part) for part in path.strip("/").split("/")] if path else []
        with self._lock:
            match request.method, parts:
                case "GET", []:
                    return json_response(200, self._state())
                case "GET", ["_functions", "user", email]:
                    return self._user(email, request.header("auth"))
                case "PUT", ["members", email]:
                    self._subscribe(email)
                    log.info("Shop: %s holds a subscription", email)
                    return json_response(200, self._state())
                case "DELETE", ["members", email]:
                    customer = self._customers.get(email.lower())
                    if customer is not None:
                        customer["subscriptions"] = []
                    log.info("Shop: %s holds no subscription", email)
                    return json_response(200, self._state())
                case "POST", ["outage"]:
                    return self._outage(request.raw_query)
        return json_response(404, {"message": "Not found"})

    def _user(self, email: str, auth: str | None) -> HttpResponse:
        if time.monotonic() < self._outage_until:
            status, answer = 503, _text(503, "Service Unavailable")
        elif auth != KEY:
            status, answer = 401, json_response(401, {"message": "Unauthorized"})
        elif (customer := self._customers.get(email.lower())) is None:
            status, answer = 404, json_response(404, {"message": f"user {email} not found"})
        else:
            status, answer = 200, json_response(200, customer)
        self._calls.append({"email": email, "status": status, "time": _now()})
        log.info("Shop: asked about %s: %s", email, status)
        return answer

    def _subscribe(self, email: str) -> None:
        customer = self._customers.setdefault(
            email.lower(), {"user": {"_id": str(uuid.uuid4())}, "subscriptions": []}
        )
        if not customer["subscriptions"]:
            customer["subscriptions"] = [{"_id": str(uuid.uuid4())}]

    def _outage(self, query: str) -> HttpResponse:
        try:
            seconds = float(parse_qs(query).get("seconds", [""])[0])
            if not 0 <= seconds <= 3600:
                raise ValueError(seconds)
        except ValueError:
            return json_response(400, {"message": "seconds must be a number from 0 to 3600"})
        self._outage_until = time.monotonic() + seconds
        log.info("Shop: answering 503 for %s s", seconds)
        return json_response(200, self._state())

    def _state(self) -> dict[str, Any]:
        return {
            "members": sorted(email for email, c in self._customers.items() if c["subscriptions"]),
            "outageSeconds": round(max(0.0, self._outage_until - time.monotonic()), 1),
            "calls": list(self._calls),
        }


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _text(status: int, text: str) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "text/plain")], text.encode())


class Shop:
    """Its plug (local/standins.py): on with MEMBERSHIP=1; the real shop with WIX_API_KEY,
    else this stand-in, where the demo player is a member."""

    name = "shop"
    feature = "membership"
    panel = Panel(
        "Club shop: members and outages",
        PATH,
        "Membership is off: start with MEMBERSHIP=1.",
        render="shop",
    )

    def requested(self) -> bool:
        return requested()

    def start(self, context: Context) -> Started:
        from local.seed import DEMO, email_of

        stand_in = enable(context.service, context.shell, context.api_url)
        url = os.environ["SHOP_URL"]
        if not stand_in:
            return Started(banner=[("Shop", f"{url} (membership from the real shop)")])
        return Started(
            routes={PATH: (ShopStandIn([email_of(DEMO)]).handle, "shop stand-in")},
            banner=[("Shop", f"{url} (who is a member; a stand-in)")],
        )


STAND_IN = Shop()
