"""Stripe's request contract for the calls this backend makes, from the pinned stripe-python.

Stripe's stand-ins (local/stripe.py for `make run`, the `responses` mocks of the tests) must
refuse what Stripe refuses, or a request Stripe rejects passes every test (issue 28: the
removed `payment_method_types`). Nothing here is a hand-kept list of parameters: for each
service method the code calls (CALLS), the HTTP method and path come from the method's own
`self._request("post", "/v1/...")` and the parameter types from its `params` annotation, the
TypedDicts stripe-python generates from Stripe's OpenAPI spec for its pinned API version
(`stripe.params`). Upgrading stripe-python upgrades the contract.

- `check(method, path, params, headers)`: the request's route, or a Refusal as Stripe words it:
  an unknown parameter (`parameter_unknown`), a missing one (`parameter_missing`), an empty one
  that cannot be unset (`parameter_invalid_empty`), a non-integer (`parameter_invalid_integer`),
  an enum, boolean, array or hash that is none (Stripe's message, no code), a Stripe-Version
  other than the pinned `stripe.api_version`.
- `Ledger`: what Stripe knows that its documented refusals of our calls depend on: a refund of
  an application fee the charge does not have, a charge already refunded, an idempotency key
  reused with other parameters (`idempotency_error`), a Checkout `expires_at` outside 30 min –
  24 h, a destination account without charges enabled.
- `install()`: every request to api.stripe.com that a `responses` mock answers in the tests
  goes through `check` and the mock's Ledger first; `observe(event)` tells the ledgers what
  a test's Stripe event reports (which session an intent paid).
"""

import ast
import functools
import inspect
import json
import re
import sys
import textwrap
import threading
import time
import types
import typing
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, Union
from urllib.parse import parse_qsl, urlsplit

import stripe
from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject
from typing_extensions import is_typeddict

API_VERSION = stripe.api_version

# The service methods the stand-in answers; with every call the code in CODE makes (read from
# its source, `...v1.refunds.create(...)`), the calls the contract knows.
CODE = Path(__file__).resolve().parent.parent / "payments"
CALLS = (
    stripe.checkout.SessionService.create,
    stripe.checkout.SessionService.retrieve,
    stripe.checkout.SessionService.expire,
    stripe.RefundService.create,
    stripe.RefundService.retrieve,
    stripe.AccountService.create,
    stripe.AccountLinkService.create,
)

# Stripe's Checkout Session lifetime: from 30 minutes to 24 hours after its creation.
CHECKOUT_MIN_SECONDS = 30 * 60
CHECKOUT_MAX_SECONDS = 24 * 3600
# Request options are arguments of the library, sent as headers, never as parameters.
_OPTIONS = frozenset(RequestOptions.__annotations__)


class Refusal(Exception):
    """Stripe's answer to a request it refuses: a status and its `{"error": {...}}` body."""

    def __init__(self, status: int, message: str, *, kind="invalid_request_error", **detail):
        super().__init__(message)
        self.status = status
        self.error = {"type": kind, "message": message, **{k: v for k, v in detail.items() if v}}

    def body(self) -> dict:
        return {"error": self.error}


def invalid(message: str, param: str, code: str | None = None) -> Refusal:
    return Refusal(400, message, param=param, code=code)


# --- the routes, read from stripe-python ------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # e.g. "checkout.SessionService.create"
    method: str  # "GET" or "POST"
    pattern: re.Pattern
    params: type  # the request's TypedDict, e.g. stripe.params.checkout.SessionCreateParams


@functools.cache
def routes() -> tuple[Route, ...]:
    calls = dict.fromkeys([*CALLS, *calls_in(CODE)])  # in order, once each
    return tuple(_route(call) for call in calls)


def calls_in(directory: Path) -> list[Callable]:
    """The stripe-python service methods the code in `directory` calls, `client.v1.x.y(...)`:
    a call added to the code is in the contract without being listed here."""
    client = stripe.StripeClient("sk_test_contract")
    found = []
    for source in sorted(directory.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            while isinstance(node, ast.Attribute):
                names.insert(0, node.attr)
                node = node.value
            if "v1" in names:
                target = functools.reduce(
                    lambda found, name: getattr(found, name, None),
                    names[names.index("v1") :],
                    client,
                )
                if inspect.ismethod(target):  # not an attribute of another `v1`
                    found.append(target.__func__)
    return found


def _route(call: Callable) -> Route:
    """The `_request(method, path...)` a service method makes, and its `params` TypedDict."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(call)))
    [request] = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "_request"
    ]
    method, path = request.args[:2]
    if isinstance(path, ast.Call):  # "/v1/checkout/sessions/{session}".format(...)
        path = path.func.value
    template = re.escape(path.value)
    pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", template)
    annotation = inspect.signature(call).parameters["params"].annotation
    [name] = re.findall(r"\w+Params\b", str(annotation))
    return Route(
        name=call.__qualname__,
        method=method.value.upper(),
        pattern=re.compile(f"{pattern}$"),
        params=_imported(sys.modules[call.__module__], name),
    )


def _imported(module: types.ModuleType, name: str) -> type:
    """A name the module imports for type checking only (`if TYPE_CHECKING: from x import N`)."""
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names):
            __import__(node.module)
            return getattr(sys.modules[node.module], name)
    raise LookupError(f"{module.__name__} does not import {name}")


def route_of(method: str, path: str) -> Route | None:
    for route in routes():
        if route.method == method and route.pattern.match(path):
            return route
    return None


# --- the parameters ---------------------------------------------------------------------------


def check(method: str, path: str, params: Mapping[str, Any], headers: Mapping[str, str]) -> Route:
    """The route of a request Stripe would accept as well-formed; a Refusal otherwise.

    `params` are form-decoded (`decode`): strings in nested dicts, lists as dicts keyed
    "0", "1"... (or lists), as Stripe's form encoding carries them."""
    version = _header(headers, "Stripe-Version")
    if version != API_VERSION:
        raise Refusal(
            400,
            f"Invalid Stripe API version: {version}. This stand-in speaks only {API_VERSION}, "
            "the version the pinned stripe-python sends.",
            param="Stripe-Version",
        )
    route = route_of(method, path)
    if route is None:
        raise Refusal(404, f"Unrecognized request URL ({method}: {path}).")
    _check_object(route.params, params, "", skip=_OPTIONS)
    return route


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _param(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _check_object(cls: type, value: Any, param: str, skip=frozenset()) -> None:
    if not isinstance(value, Mapping):
        raise invalid(f"Invalid object for {param}", param)
    namespace = vars(sys.modules[cls.__module__])
    fields = {k: v for k, v in cls.__annotations__.items() if k not in skip}
    for key in value:
        if key not in fields:
            name = _param(param, key)
            raise invalid(f"Received unknown parameter: {name}", name, "parameter_unknown")
    for key, annotation in fields.items():
        name = _param(param, key)
        if key in value:
            _check_value(_unwrapped(annotation, namespace), value[key], name, namespace)
        elif key in cls.__required_keys__:
            raise invalid(f"Missing required param: {name}.", name, "parameter_missing")


def _resolved(annotation: Any, namespace: dict) -> Any:
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        # The library's own annotation strings, in the module that declares them.
        annotation = eval(annotation, namespace)  # noqa: S307
    return annotation


def _unwrapped(annotation: Any, namespace: dict) -> Any:
    annotation = _resolved(annotation, namespace)
    while typing.get_origin(annotation) in (NotRequired, Required):
        annotation = _resolved(typing.get_args(annotation)[0], namespace)
    return annotation


def _options(annotation: Any, namespace: dict) -> list:
    """A union's members (flattened), or the one type."""
    annotation = _resolved(annotation, namespace)
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _options(a, namespace)]
    return [annotation]


def _check_value(annotation: Any, value: Any, param: str, namespace: dict) -> None:
    options = _options(annotation, namespace)
    literals = [v for o in options if typing.get_origin(o) is Literal for v in typing.get_args(o)]
    if value == "":  # Stripe reads an empty value as "unset": only where it may be unset
        if "" in literals:
            return
        raise invalid(
            f"You passed an empty string for '{param}'. We assume empty values are an attempt "
            f"to unset a parameter; however '{param}' cannot be unset. You should remove "
            f"'{param}' from your request or supply a non-empty value.",
            param,
            "parameter_invalid_empty",
        )
    refusals = []
    for option in options:
        try:
            _check_one(option, value, param, namespace)
            return
        except Refusal as refused:
            if typing.get_origin(option) is not Literal:
                refusals.append(refused)
    if refusals:  # what the value is not (a hash, an integer), rather than the unset `''`
        raise refusals[0]
    shown = ", ".join(str(v) for v in literals if v != "")
    raise invalid(f"Invalid {param.rsplit('[', 1)[-1].rstrip(']')}: must be one of {shown}", param)


def _check_one(option: Any, value: Any, param: str, namespace: dict) -> None:
    origin = typing.get_origin(option)
    if option is Any or option is object:
        return
    if origin is Literal:
        if value not in [
            str(v).lower() if isinstance(v, bool) else str(v) for v in typing.get_args(option)
        ]:
            raise invalid(f"Invalid value for {param}", param)
        return
    if is_typeddict(option):
        _check_object(option, value, param)
        return
    if origin is list:
        _check_list(typing.get_args(option)[0], value, param, namespace)
        return
    if origin in (dict, Mapping, UntypedStripeObject) or option is UntypedStripeObject:
        if not isinstance(value, Mapping):
            raise invalid(f"Invalid hash for {param}", param)
        [element] = typing.get_args(option)[-1:] or [Any]
        for key, item in value.items():
            _check_value(element, item, _param(param, key), namespace)
        return
    if not isinstance(value, str):
        raise invalid(f"Invalid {_kind(option)}: {param} must be a {_kind(option)}", param)
    if option is str:
        return
    if option is bool:
        if value not in ("true", "false"):
            raise invalid(f"Invalid boolean: {value}", param)
        return
    if option is int:
        if not re.fullmatch(r"-?\d+", value):
            raise invalid(f"Invalid integer: {value}", param, "parameter_invalid_integer")
        return
    if option in (float, Decimal):
        try:
            Decimal(value)
        except InvalidOperation:
            raise invalid(f"Invalid decimal: {value}", param) from None
        return
    raise invalid(f"Invalid value for {param}", param)


def _kind(option: Any) -> str:
    return {str: "string", int: "integer", bool: "boolean"}.get(option, "value")


def _check_list(element: Any, value: Any, param: str, namespace: dict) -> None:
    if isinstance(value, Mapping) and all(k.isdigit() for k in value):
        items = [value[k] for k in sorted(value, key=int)]
        if [int(k) for k in sorted(value, key=int)] != list(range(len(items))):
            raise invalid(f"Invalid array for {param}", param)
    elif isinstance(value, list):
        items = value
    else:
        raise invalid(f"Invalid array for {param}", param)
    for index, item in enumerate(items):
        _check_value(element, item, f"{param}[{index}]", namespace)


def decode(query: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) as nested dicts of strings (lists keyed "0"...)."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        path = key.replace("]", "").split("[")
        node = result
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # `a=x&a[b]=y`: Stripe refuses a as both
                raise invalid(f"Invalid hash for {part}", part)
            node = child
        node[path[-1]] = value
    return result


# --- what Stripe knows: its documented refusals of the calls we make --------------------------


@dataclass(eq=False)  # one ledger per Stripe: compared (and hashed) by identity
class Ledger:
    """The facts Stripe's refusals depend on, kept by whoever plays Stripe.

    `sessions`: Checkout Session id -> its creation parameters (decoded); `intents`:
    PaymentIntent id -> the session it paid; `refunded`: the PaymentIntents refunded in full;
    `accounts`: connected account id -> charges enabled; `keys`: idempotency key -> the
    request it was first used with. `complete`: the ledger knows every account (the local
    stand-in), so an unknown destination is Stripe's `resource_missing`; a test's double
    declares only the accounts it cares about, and leaves the others unchecked."""

    sessions: dict[str, dict] = field(default_factory=dict)
    intents: dict[str, str] = field(default_factory=dict)
    refunded: set[str] = field(default_factory=set)
    accounts: dict[str, bool] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    complete: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def idempotency(self, key: str | None, route: Route, path: str, params: Mapping) -> None:
        """Refuses a key reused with another request, as Stripe does for 24 hours."""
        if not key or route.method != "POST":
            return
        request = json.dumps([path, params], sort_keys=True)
        with self.lock:
            first = self.keys.setdefault(key, request)
        if first != request:
            raise Refusal(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                kind="idempotency_error",
            )

    def learn(self, route: Route, params: Mapping, answer: Mapping) -> None:
        """What an accepted request made: a session and its parameters, a refund."""
        with self.lock:
            if route.name == "SessionService.create":
                self.sessions[answer.get("id", "")] = dict(params)
            elif route.name == "RefundService.create" and answer.get("status") not in (
                "failed",
                "canceled",
            ):
                self.refunded.add(params.get("payment_intent"))

    def refuse(self, route: Route, params: Mapping, now: float | None = None) -> None:
        """Stripe's documented refusals of a well-formed request, for the calls we make."""
        if route.name == "SessionService.create":
            self._checkout(params, time.time() if now is None else now)
        elif route.name == "RefundService.create":
            self._refund(params)

    def _checkout(self, params: Mapping, now: float) -> None:
        if "expires_at" in params:
            after = int(params["expires_at"]) - now
            if not CHECKOUT_MIN_SECONDS <= after <= CHECKOUT_MAX_SECONDS:
                raise invalid(
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                    "the Checkout Session creation.",
                    "expires_at",
                )
        intent = params.get("payment_intent_data") or {}
        destination = (intent.get("transfer_data") or {}).get("destination")
        param = "payment_intent_data[transfer_data][destination]"
        enabled = self.accounts.get(destination or "")
        if destination is None or (enabled is None and not self.complete):
            return
        if enabled is None:
            raise invalid(f"No such destination: '{destination}'", param, "resource_missing")
        if not enabled:
            raise invalid(
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                param,
            )

    def _refund(self, params: Mapping) -> None:
        intent = params.get("payment_intent") or ""
        if intent in self.refunded:
            raise invalid(
                f"Charge for {intent} has already been refunded.",
                "payment_intent",
                "charge_already_refunded",
            )
        session = self.sessions.get(self.intents.get(intent, ""))
        if session is None:
            return  # an intent Stripe does not know: the answerer's resource_missing
        fee = (session.get("payment_intent_data") or {}).get("application_fee_amount")
        if params.get("refund_application_fee") == "true" and not int(fee or 0):
            raise invalid(
                "This charge has no application fee to refund: refund_application_fee applies "
                "only to a charge made with an application_fee_amount.",
                "refund_application_fee",
            )


# --- the tests' `responses` mocks -------------------------------------------------------------


def install() -> None:
    """Every request to api.stripe.com that a `responses` mock answers meets the contract
    first: a refusal is answered as Stripe would, before any registered callback runs. Each
    mock keeps its own Ledger (`ledger(mock)`), which learns the sessions and refunds from the
    answers; a test's Stripe double declares the rest there (who paid with which intent,
    which accounts take charges)."""
    import responses

    if getattr(responses.RequestsMock, "_stripe_contract", False):
        return
    answer = responses.RequestsMock._on_request

    def on_request(mock, adapter, request, **kwargs):
        if urlsplit(request.url).hostname != "api.stripe.com":
            return answer(mock, adapter, request, **kwargs)
        book = ledger(mock)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        parts = urlsplit(request.url)
        try:
            params = decode(body or "") if request.method == "POST" else decode(parts.query)
            route = check(request.method, parts.path, params, request.headers)
            book.idempotency(request.headers.get("Idempotency-Key"), route, parts.path, params)
            book.refuse(route, params)
        except Refusal as refused:
            reply = responses.Response(
                request.method, request.url, json=refused.body(), status=refused.status
            )
            return adapter.build_response(request, reply.get_response(request))
        response = answer(mock, adapter, request, **kwargs)
        try:
            made = response.json() if response.ok else None
        except ValueError:  # a double's answer that is no object: nothing to learn
            made = None
        if isinstance(made, dict):
            book.learn(route, params, made)
        return response

    responses.RequestsMock._on_request = on_request
    responses.RequestsMock._stripe_contract = True


# The ledgers of the mocks alive: a test's Stripe events are facts for its mock's Stripe.
_LEDGERS: "weakref.WeakSet[Ledger]" = weakref.WeakSet()


def ledger(mock) -> Ledger:
    """The Ledger of one `responses` mock (made on first use)."""
    if not hasattr(mock, "stripe_ledger"):
        mock.stripe_ledger = Ledger()
        _LEDGERS.add(mock.stripe_ledger)
    return mock.stripe_ledger


def observe(event: Any) -> None:
    """What a test's Stripe event reports happened at Stripe (a Checkout Session paid with a
    PaymentIntent), known to the mocks' ledgers, as Stripe knows what it reports. Anything
    else (another event, a payload that is no event: a test of the webhook) teaches nothing."""
    if isinstance(event, str | bytes):
        try:
            event = json.loads(event)
        except (ValueError, RecursionError):  # a test of the webhook's refusals
            return
    data = event.get("data") if isinstance(event, dict) else None
    session = data.get("object") if isinstance(data, dict) else None
    if not isinstance(session, dict) or session.get("object") != "checkout.session":
        return
    intent = session.get("payment_intent")
    if isinstance(intent, str) and isinstance(session.get("id"), str):
        for known in list(_LEDGERS):
            with known.lock:
                known.intents.setdefault(intent, session["id"])
