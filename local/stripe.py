"""A stand-in for Stripe's API under `/_local/stripe`, for `make run` without a Stripe key.

The payment functions reach it through the stripe library's own base-URL setting
(STRIPE_API_BASE → `StripeClient(base_addresses=...)`, payments/stripe_client.py). It answers
the calls the code makes, in the shapes of Stripe's API reference: Checkout Sessions (create,
retrieve, expire), Refunds (create, retrieve; an idempotency key's first answer replayed,
failures included), Connect accounts and account links. Errors are Stripe's
`{"error": {"type", "code", "param", "message"}}`.

It is as strict as Stripe (local/stripe_contract.py): every request is checked against the
parameter types the pinned stripe-python declares for its API version, the Stripe-Version
header must be that version, and Stripe's documented refusals hold: an unknown destination
account (`resource_missing`; one of this stand-in's own `acct_local_` ids it no longer knows,
after a restart, is taken as enabled), one without charges enabled, `expires_at` outside
30 min – 24 h, a refund of a charge already refunded (`charge_already_refunded`) or of an
application fee the charge does not have, an idempotency key reused with other parameters
(`idempotency_error`).

What Stripe would tell the webhook it sends, **signed** (Stripe-Signature, v1 HMAC-SHA256 with
the stage's signing secret), to the local `/stripe/webhook`. The control routes drive it:

- `GET /_local/stripe` → `{"checkoutSessions", "refunds", "events", "accounts"}`
- `POST /_local/stripe/checkout/{id}/complete`: the player pays (`checkout.session.completed`);
  an expired session refuses (400), one whose expire call failed can still be paid;
  `?deliver=false` records the event without sending it (a lost event)
- `POST /_local/stripe/checkout/{id}/expire`: the session expires (`checkout.session.expired`);
  `?deliver=false` records the event without sending it (a lost event)
- `POST /_local/stripe/events/{id}/resend`: delivers an event again, at any time, in any order
- `POST /_local/stripe/accounts/{id}/enable`: charges enabled (`account.updated`)
- `POST /_local/stripe/refunds/next` `{"status": "pending"|"failed"|"succeeded"}`: the status
  the next refund is created with (then `succeeded` again, Stripe's usual answer for a card)
- `POST /_local/stripe/refunds/{id}/succeed`: a pending refund succeeds (`refund.updated` and
  `charge.refund.updated`)
- `POST /_local/stripe/refunds/{id}/fail`: a pending or succeeded refund fails (`refund.failed`
  and `charge.refund.updated`); the charge can be refunded again
- `POST /_local/stripe/fail-next` `{"status": 401|403|429|500, "path": "/v1/refunds",
  "times": 1}`: the next `times` API requests whose path starts with `path` get Stripe's error
  for that status (authentication_error, permission_error, rate_limit_error, api_error),
  before anything is done or any idempotency key recorded. stripe-python retries a 429 or a
  500 once (payments/stripe_client.py's NETWORK_RETRIES): `times: 2` outlasts it.
"""

import hashlib
import hmac
import http.server
import itertools
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import nullcontext
from typing import Any
from urllib.parse import parse_qs

from local.events import HttpRequest, HttpResponse, json_body, json_response
from local.stripe_contract import API_VERSION, Ledger, Refusal, check, decode

PATH = "/_local/stripe"
SECRET_KEY = "sk_test_local_stand_in"
WEBHOOK_SECRET = "whsec_local_stand_in"
REFUND_STATUSES = ("pending", "failed", "succeeded")
# Stripe's answer for each status fail-next can make: (type, code, message).
FAILURES = {
    401: ("authentication_error", None, "Invalid API Key provided: sk_test_****"),
    403: (
        "permission_error",
        None,
        "The provided key does not have the required permissions for this endpoint.",
    ),
    429: ("rate_limit_error", "rate_limit", "Too many requests hit the API too quickly."),
    500: ("api_error", None, "An unknown error occurred."),
}


def form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) as nested dicts and lists."""
    result: dict[str, Any] = {}
    for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
        path = key.replace("]", "").split("[")
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = values[0]
    return _listed(result)


def _listed(value: Any) -> Any:
    """Maps keyed 0, 1, ... (`a[0]=x`) as the lists they encode."""
    if not isinstance(value, dict):
        return value
    items = {key: _listed(item) for key, item in value.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def error(status: int, message: str, kind="invalid_request_error", code=None) -> HttpResponse:
    detail = {"type": kind, "message": message, **({"code": code} if code else {})}
    return json_response(status, {"error": detail})


def refused(refusal: Refusal) -> HttpResponse:
    return json_response(refusal.status, refusal.body())


class StripeStandIn:
    def __init__(self, api_url: str, webhook_secret: str = WEBHOOK_SECRET):
        self.api_url = api_url
        self.webhook_url = f"{api_url}/stripe/webhook"
        self.webhook_secret = webhook_secret
        self._lock = threading.Lock()
        self._refunding = threading.Lock()
        self._numbers = itertools.count(1)
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.answers: dict[str, tuple[int, dict]] = {}  # idempotency key -> first answer
        self.accounts: dict[str, dict] = {}
        self.events: dict[str, dict] = {}
        self.delivered: dict[str, int] = {}  # event id -> deliveries that got a 2xx
        self.ledger = Ledger(complete=True)  # what Stripe's refusals depend on
        self.next_refund = "succeeded"
        self.failures: list[list] = []  # [path prefix, status, times left]: fail-next

    # --- routing ----------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.raw_path.removeprefix(PATH).rstrip("/")
        parts = path.strip("/").split("/") if path else []
        method = request.method
        if parts[:1] == ["v1"]:
            if failure := self._failure(path):
                return failure
            if request.header("Authorization") != f"Bearer {SECRET_KEY}":
                return error(401, "Invalid API Key provided", kind="invalid_request_error")
            return self._api(method, path, parts[1:], request)
        if method == "GET" and not parts:
            return json_response(200, self.state())
        if method == "POST" and len(parts) == 3 and parts[0] == "checkout":
            deliver = "deliver=false" not in request.raw_query
            if parts[2] == "complete":
                return self._control(self.complete, parts[1], deliver)
            if parts[2] == "expire":
                return self._control(self.expire, parts[1], deliver)
        if method == "POST" and len(parts) == 3 and parts[0] == "events" and parts[2] == "resend":
            if parts[1] not in self.events:
                return error(404, f"No such event: '{parts[1]}'", code="resource_missing")
            return json_response(200, self.deliver(parts[1]))
        if method == "POST" and len(parts) == 3 and parts[0] == "accounts" and parts[2] == "enable":
            return self._control(self.enable, parts[1])
        if method == "POST" and parts == ["refunds", "next"]:
            order = json_body(request)
            status = order.get("status") if isinstance(order, dict) else None
            return self._control(self.set_next_refund, status)
        if method == "POST" and len(parts) == 3 and parts[0] == "refunds" and parts[2] == "fail":
            return self._control(self.settle_refund, parts[1], False)
        if method == "POST" and len(parts) == 3 and parts[0] == "refunds" and parts[2] == "succeed":
            return self._control(self.settle_refund, parts[1], True)
        if method == "POST" and parts == ["fail-next"]:
            return self._control(self.fail_next, json_body(request))
        return error(404, f"Unrecognized request URL ({method}: {request.raw_path})")

    def _control(self, action, object_id, *args) -> HttpResponse:
        try:
            return json_response(200, action(object_id, *args))
        except KeyError:
            return error(404, f"No such object: '{object_id}'", code="resource_missing")
        except ValueError as refused:
            return error(400, str(refused))

    def _failure(self, path: str) -> HttpResponse | None:
        """The error fail-next asked for, if this request is one it names."""
        with self._lock:
            for failure in self.failures:
                prefix, status, _ = failure
                if path.startswith(prefix):
                    failure[2] -= 1
                    if failure[2] == 0:
                        self.failures.remove(failure)
                    kind, code, message = FAILURES[status]
                    return error(status, message, kind=kind, code=code)
        return None

    def _api(self, method: str, path: str, parts: list[str], request: HttpRequest) -> HttpResponse:
        key = request.header("Idempotency-Key")
        headers = dict(request.headers)
        try:
            params = decode(request.body.decode() if method == "POST" else request.raw_query)
            route = check(method, path, params, headers)
            self.ledger.idempotency(key, route, path, params)
        except Refusal as refusal:
            return refused(refusal)
        with self._lock:
            if method == "POST" and key and key in self.answers:
                return json_response(*self.answers[key])
        # A refund's checks and its making are one step: two at once cannot both pass.
        one_at_a_time = self._refunding if route.name == "RefundService.create" else nullcontext()
        with one_at_a_time:
            try:
                self._refuse(route, params)
            except Refusal as refusal:
                answer = (refusal.status, refusal.body())
            else:
                data = form(request.body) if method == "POST" else {}
                found = self._answer(method, parts, data)
                if isinstance(found, HttpResponse):
                    return found  # not an answer Stripe keeps for the key: nothing was done
                answer = found
                if answer[0] == 200:
                    self.ledger.learn(route, params, answer[1])
        if method == "POST" and key:
            with self._lock:
                self.answers.setdefault(key, answer)
                answer = self.answers[key]
        return json_response(*answer)

    def _refuse(self, route, params: dict) -> None:
        destination = ((params.get("payment_intent_data") or {}).get("transfer_data") or {}).get(
            "destination"
        )
        with self._lock:
            # One of this stand-in's own ids that it no longer knows (a `make run` restarted
            # with its data kept): the account it made, onboarded then.
            if destination and destination.startswith("acct_local_"):
                self.ledger.accounts.setdefault(destination, True)
        self.ledger.refuse(route, params)

    def _answer(self, method: str, parts: list[str], data: dict) -> tuple[int, dict] | HttpResponse:
        if method == "POST" and parts == ["checkout", "sessions"]:
            return 200, self._create_session(data)
        if method == "GET" and parts[:2] == ["checkout", "sessions"] and len(parts) == 3:
            session = self.sessions.get(parts[2])
            if session is None:
                return _missing("checkout.session", parts[2])
            return 200, session
        if method == "POST" and parts[:2] == ["checkout", "sessions"] and parts[3:] == ["expire"]:
            try:
                self.expire(parts[2], True)  # Stripe sends the event, as for any expiry
                return 200, self.sessions[parts[2]]
            except KeyError:
                return _missing("checkout.session", parts[2])
            except ValueError as refusal:
                return 400, {"error": {"type": "invalid_request_error", "message": str(refusal)}}
        if method == "POST" and parts == ["refunds"]:
            return self._refund(data)
        if method == "GET" and parts == ["refunds"]:
            return 200, self._list_refunds(data)
        if method == "GET" and parts[:1] == ["refunds"] and len(parts) == 2:
            refund = self.refunds.get(parts[1])
            if refund is None:
                return _missing("refund", parts[1])
            return 200, refund
        if method == "POST" and parts == ["accounts"]:
            return 200, self._create_account(data)
        if method == "POST" and parts == ["account_links"]:
            return 200, self._account_link(data)
        return error(404, f"Unrecognized request URL ({method}: /v1/{'/'.join(parts)})")

    # --- the API ------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_local_{next(self._numbers):06d}"

    def _create_session(self, data: dict) -> dict:
        item = data["line_items"][0]
        session_id = self._id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_total": int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)),
            "currency": item["price_data"]["currency"],
            "client_reference_id": data.get("client_reference_id"),
            "created": int(time.time()),
            "expires_at": int(data.get("expires_at") or time.time() + 24 * 3600),
            "livemode": False,
            "metadata": data.get("metadata", {}),
            "mode": data.get("mode", "payment"),
            "payment_intent": None,
            "payment_method_types": data.get("allowed_payment_method_types", ["card"]),
            "payment_status": "unpaid",
            "status": "open",
            "success_url": data.get("success_url"),
            "cancel_url": data.get("cancel_url"),
            "url": f"{self.api_url}{PATH}/checkout/{session_id}",
        }
        with self._lock:
            self.sessions[session_id] = session
        return session

    def _refund(self, data: dict) -> tuple[int, dict]:
        intent = data.get("payment_intent")
        with self._lock:
            paid = [s for s in self.sessions.values() if s["payment_intent"] == intent]
            if not paid:
                return 404, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "param": "payment_intent",
                        "message": f"No such payment_intent: '{intent}'",
                    }
                }
            status, self.next_refund = self.next_refund, "succeeded"
            refund_id = self._id("re")
            refund = {
                "id": refund_id,
                "object": "refund",
                "amount": paid[0]["amount_total"],
                "currency": paid[0]["currency"],
                "payment_intent": intent,
                "status": status,
                "created": int(time.time()),
                "metadata": data.get("metadata", {}),
            }
            if status == "failed":
                refund["failure_reason"] = "expired_or_canceled_card"
            self.refunds[refund_id] = refund
        return 200, refund

    def _list_refunds(self, data: dict) -> dict:
        """Stripe's list object, newest first, of the refunds of `payment_intent` if given."""
        intent, limit = data.get("payment_intent"), int(data.get("limit") or 10)
        with self._lock:
            found = [r for r in self.refunds.values() if intent in (None, r["payment_intent"])]
        found.reverse()
        return {
            "object": "list",
            "url": "/v1/refunds",
            "has_more": len(found) > limit,
            "data": found[:limit],
        }

    def _create_account(self, data: dict) -> dict:
        account_id = self._id("acct")
        account = {
            "id": account_id,
            "object": "account",
            "type": data.get("type", "express"),
            "country": data.get("country"),
            "charges_enabled": False,
            "details_submitted": False,
            "payouts_enabled": False,
            "metadata": data.get("metadata", {}),
        }
        with self._lock:
            self.accounts[account_id] = account
            self.ledger.accounts[account_id] = False
        return account

    def _account_link(self, data: dict) -> dict:
        return {
            "object": "account_link",
            "created": int(time.time()),
            "expires_at": int(time.time()) + 300,
            "url": f"{self.api_url}{PATH}/accounts/{data['account']}/enable",
        }

    # --- what happens at Stripe, and the events it sends -------------------------------------

    def complete(self, session_id: str, deliver: bool = True) -> dict:
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"This Checkout Session is {session['status']}.")
            intent = self._id("pi")
            session.update(status="complete", payment_status="paid", payment_intent=intent)
            self.ledger.intents[intent] = session_id
        return self._send("checkout.session.completed", session, deliver)

    def expire(self, session_id: str, deliver: bool) -> dict:
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(
                    'Only Checkout Sessions with a status in ["open"] can be expired. This '
                    f'Checkout Session has a status of "{session["status"]}".'
                )
            session["status"] = "expired"
        return self._send("checkout.session.expired", session, deliver)

    def enable(self, account_id: str) -> dict:
        with self._lock:
            account = self.accounts[account_id]
            account.update(charges_enabled=True, details_submitted=True, payouts_enabled=True)
            self.ledger.accounts[account_id] = True
        return self._send("account.updated", account, deliver=True)

    def set_next_refund(self, status) -> dict:
        if status not in REFUND_STATUSES:
            raise ValueError(f"status must be one of {', '.join(REFUND_STATUSES)}")
        with self._lock:
            self.next_refund = status
        return {"next": status}

    def settle_refund(self, refund_id: str, succeeded: bool) -> dict:
        """A pending refund succeeds, or a pending or succeeded one fails (a card refund can
        fail after it succeeded), with the events Stripe sends for it."""
        with self._lock:
            refund = self.refunds[refund_id]
            allowed = ("pending",) if succeeded else ("pending", "succeeded")
            if refund["status"] not in allowed:
                raise ValueError(f"This refund is {refund['status']}.")
            if succeeded:
                refund["status"] = "succeeded"
            else:
                refund.update(status="failed", failure_reason="expired_or_canceled_card")
                self.ledger.refunded.discard(refund["payment_intent"])  # refundable again
        kind = "refund.updated" if succeeded else "refund.failed"
        return {
            "events": [
                self._send(kind, refund, deliver=True),
                self._send("charge.refund.updated", refund, deliver=True),
            ]
        }

    def fail_next(self, order) -> dict:
        if not isinstance(order, dict) or order.get("status") not in FAILURES:
            raise ValueError(f"status must be one of {', '.join(map(str, FAILURES))}")
        prefix, times = order.get("path", "/v1/"), order.get("times", 1)
        if not (isinstance(prefix, str) and prefix.startswith("/v1/")):
            raise ValueError("path must be a prefix of Stripe API paths: /v1/...")
        if type(times) is not int or times < 1:
            raise ValueError("times must be a positive integer")
        with self._lock:
            self.failures.append([prefix, order["status"], times])
        return {"path": prefix, "status": order["status"], "times": times}

    def _send(self, kind: str, data: dict, deliver: bool) -> dict:
        event_id = self._id("evt")
        event = {
            "id": event_id,
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": kind,
            "data": {"object": json.loads(json.dumps(data))},  # as it was at the time
        }
        with self._lock:
            self.events[event_id] = event
            self.delivered.setdefault(event_id, 0)
        if deliver:
            return self.deliver(event_id)
        return {"event": event_id, "status": None}

    def deliver(self, event_id: str) -> dict:
        """POSTs the event to the webhook, signed as Stripe signs: `t=<now>,v1=<HMAC>`."""
        payload = json.dumps(self.events[event_id])
        timestamp = int(time.time())
        mac = hmac.new(
            self.webhook_secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
        )
        request = urllib.request.Request(
            self.webhook_url,
            data=payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": f"t={timestamp},v1={mac.hexdigest()}",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status = answer.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        except OSError:
            status = None
        if status is not None and 200 <= status < 300:
            with self._lock:
                self.delivered[event_id] += 1
        return {"event": event_id, "status": status}

    def state(self) -> dict:
        with self._lock:
            return {
                "checkoutSessions": [
                    {
                        key: session[key]
                        for key in (
                            "id",
                            "url",
                            "status",
                            "payment_status",
                            "payment_intent",
                            "amount_total",
                            "currency",
                            "metadata",
                        )
                    }
                    for session in self.sessions.values()
                ],
                "refunds": [
                    {key: refund[key] for key in ("id", "payment_intent", "amount", "status")}
                    for refund in self.refunds.values()
                ],
                "events": [
                    {
                        "id": e["id"],
                        "type": e["type"],
                        "delivered": self.delivered[e["id"]] > 0,
                        "deliveries": self.delivered[e["id"]],  # answered 2xx
                    }
                    for e in self.events.values()
                ],
                "accounts": [
                    {"id": a["id"], "charges_enabled": a["charges_enabled"]}
                    for a in self.accounts.values()
                ],
            }


def _missing(kind: str, object_id: str) -> HttpResponse:
    return error(404, f"No such {kind}: '{object_id}'", code="resource_missing")


# --- on its own: a Stripe-compatible server for `make run` with STRIPE_API_BASE ---------------


class _Handler(http.server.BaseHTTPRequestHandler):
    stand_in: StripeStandIn
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = HttpRequest(
            method=self.command,
            target=PATH + self.path if self.path.startswith("/v1/") else self.path,
            headers=list(self.headers.items()),
            body=self.rfile.read(length),
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        response = self.stand_in.handle(request)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


def serve(port: int, webhook_url: str, webhook_secret: str = WEBHOOK_SECRET):
    """The stand-in as a server of its own on 127.0.0.1:`port` (0: any free port), Stripe's
    paths at its root (`/v1/...`) and the control routes under `/_local/stripe`, sending its
    events to `webhook_url`: (server, stand-in); the caller runs `server.serve_forever()`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    stand_in = StripeStandIn(base, webhook_secret)
    stand_in.webhook_url = webhook_url
    server.RequestHandlerClass = type("Handler", (_Handler,), {"stand_in": stand_in})
    return server, stand_in


if __name__ == "__main__":
    # python -m local.stripe [port] [webhook URL]: for `make run` with STRIPE_API_BASE.
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 12111
    webhook = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:4000/stripe/webhook"
    server, _ = serve(port, webhook, os.environ.get("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET))
    print(f"Stripe stand-in on http://127.0.0.1:{server.server_address[1]}, events to {webhook}")
    print(f"  make run with STRIPE_SECRET_KEY={SECRET_KEY} STRIPE_WEBHOOK_SECRET=<the same>")
    server.serve_forever()
