"""A stand-in for Stripe's API under `/_local/stripe`, for `make run` without a Stripe key.

The payment functions reach it through the stripe library's own base-URL setting
(STRIPE_API_BASE → `StripeClient(base_addresses=...)`, payments/stripe_client.py). It answers
the calls the code makes, in the shapes of Stripe's API reference: Checkout Sessions (create,
retrieve, expire), Refunds (an idempotency key's first answer replayed, failures included; a
payment refunded in full refuses another with `charge_already_refunded`), Connect accounts and
account links. Errors are Stripe's `{"error": {"type", "code", "message"}}`.

What Stripe would tell the webhook it sends, **signed** (Stripe-Signature, v1 HMAC-SHA256 with
the stage's signing secret), to the local `/stripe/webhook`. The control routes drive it:

- `GET /_local/stripe` → `{"checkoutSessions", "refunds", "events", "accounts"}`
- `POST /_local/stripe/checkout/{id}/complete`: the player pays (`checkout.session.completed`)
- `POST /_local/stripe/checkout/{id}/expire`: the session expires (`checkout.session.expired`);
  `?deliver=false` records the event without sending it (a lost event)
- `POST /_local/stripe/events/{id}/resend`: delivers an event again, at any time, in any order
- `POST /_local/stripe/accounts/{id}/enable`: charges enabled (`account.updated`)
"""

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs

from local.events import HttpRequest, HttpResponse, json_response

PATH = "/_local/stripe"
SECRET_KEY = "sk_test_local_stand_in"
WEBHOOK_SECRET = "whsec_local_stand_in"


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


class StripeStandIn:
    def __init__(self, api_url: str, webhook_secret: str = WEBHOOK_SECRET):
        self.api_url = api_url
        self.webhook_url = f"{api_url}/stripe/webhook"
        self.webhook_secret = webhook_secret
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.answers: dict[str, tuple[int, dict]] = {}  # idempotency key -> first answer
        self.accounts: dict[str, dict] = {}
        self.events: dict[str, dict] = {}
        self.delivered: dict[str, int] = {}  # event id -> deliveries that got a 2xx

    # --- routing ----------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.raw_path.removeprefix(PATH).rstrip("/")
        parts = path.strip("/").split("/") if path else []
        method = request.method
        if parts[:1] == ["v1"]:
            if request.header("Authorization") != f"Bearer {SECRET_KEY}":
                return error(401, "Invalid API Key provided", kind="invalid_request_error")
            return self._api(method, parts[1:], request)
        if method == "GET" and not parts:
            return json_response(200, self.state())
        if method == "POST" and len(parts) == 3 and parts[0] == "checkout":
            deliver = "deliver=false" not in request.raw_query
            if parts[2] == "complete":
                return self._control(self.complete, parts[1])
            if parts[2] == "expire":
                return self._control(self.expire, parts[1], deliver)
        if method == "POST" and len(parts) == 3 and parts[0] == "events" and parts[2] == "resend":
            if parts[1] not in self.events:
                return error(404, f"No such event: '{parts[1]}'", code="resource_missing")
            return json_response(200, self.deliver(parts[1]))
        if method == "POST" and len(parts) == 3 and parts[0] == "accounts" and parts[2] == "enable":
            return self._control(self.enable, parts[1])
        return error(404, f"Unrecognized request URL ({method}: {request.raw_path})")

    def _control(self, action, object_id: str, *args) -> HttpResponse:
        try:
            return json_response(200, action(object_id, *args))
        except KeyError:
            return error(404, f"No such object: '{object_id}'", code="resource_missing")
        except ValueError as refused:
            return error(400, str(refused))

    def _api(self, method: str, parts: list[str], request: HttpRequest) -> HttpResponse:
        key = request.header("Idempotency-Key")
        with self._lock:
            if method == "POST" and key and key in self.answers:
                return json_response(*self.answers[key])
        data = form(request.body) if method == "POST" else {}
        if method == "POST" and parts == ["checkout", "sessions"]:
            answer = (200, self._create_session(data))
        elif method == "GET" and parts[:2] == ["checkout", "sessions"] and len(parts) == 3:
            session = self.sessions.get(parts[2])
            if session is None:
                return error(
                    404, f"No such checkout.session: '{parts[2]}'", code="resource_missing"
                )
            answer = (200, session)
        elif method == "POST" and parts[:2] == ["checkout", "sessions"] and parts[3:] == ["expire"]:
            try:
                self.expire(parts[2], True)  # Stripe sends the event, as for any expiry
                return json_response(200, self.sessions[parts[2]])
            except KeyError:
                return error(
                    404, f"No such checkout.session: '{parts[2]}'", code="resource_missing"
                )
            except ValueError as refused:
                return error(400, str(refused))
        elif method == "POST" and parts == ["refunds"]:
            answer = self._refund(data)
        elif method == "POST" and parts == ["accounts"]:
            answer = (200, self._create_account(data))
        elif method == "POST" and parts == ["account_links"]:
            answer = (200, self._account_link(data))
        else:
            return error(404, f"Unrecognized request URL ({method}: /{'/'.join(parts)})")
        if method == "POST" and key:
            with self._lock:
                self.answers.setdefault(key, answer)
                answer = self.answers[key]
        return json_response(*answer)

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
            "payment_method_types": data.get("payment_method_types", ["card"]),
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
                        "message": f"No such payment_intent: '{intent}'",
                    }
                }
            if any(r["payment_intent"] == intent for r in self.refunds.values()):
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "charge_already_refunded",
                        "message": f"Charge for {intent} has already been refunded.",
                    }
                }
            refund_id = self._id("re")
            refund = {
                "id": refund_id,
                "object": "refund",
                "amount": paid[0]["amount_total"],
                "currency": paid[0]["currency"],
                "payment_intent": intent,
                "status": "succeeded",
                "created": int(time.time()),
                "metadata": {},
            }
            self.refunds[refund_id] = refund
        return 200, refund

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
        return account

    def _account_link(self, data: dict) -> dict:
        return {
            "object": "account_link",
            "created": int(time.time()),
            "expires_at": int(time.time()) + 300,
            "url": f"{self.api_url}{PATH}/accounts/{data['account']}/enable",
        }

    # --- what happens at Stripe, and the events it sends -------------------------------------

    def complete(self, session_id: str) -> dict:
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"This Checkout Session is {session['status']}.")
            session.update(status="complete", payment_status="paid", payment_intent=self._id("pi"))
        return self._send("checkout.session.completed", session, deliver=True)

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
        return self._send("account.updated", account, deliver=True)

    def _send(self, kind: str, data: dict, deliver: bool) -> dict:
        event_id = self._id("evt")
        event = {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
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
                    {key: refund[key] for key in ("id", "payment_intent", "amount")}
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
