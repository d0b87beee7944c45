"""Everything this backend asks of Stripe, and Stripe's keys.

The keys are the stage's Stripe secret (STRIPE_SECRET_NAME, read by api/secrets.py, cached for
a few minutes, so a rotated key is picked up without a deploy), JSON `{"secretKey": "sk_...",
"webhookSecret": "whsec_...", "connectWebhookSecret": "whsec_..."}`, the last optional.
Importing this module loads `stripe` (and `requests`, boto3 for the secret): only the functions
that talk to Stripe do, and bookAvailability and cancelMeeting only on their paid paths.

Stripe's failures are reported in the data layer's terms (database.errors), which the API maps:
Stripe unreachable, busy or failing is Unavailable (503, worth retrying, nothing held); Stripe
refusing the request itself (400/404: a parameter, a state) is Refused, the only answer a
retry would not change; anything else (401 while a rolled key is still cached, 403 from a
restricted key, a secret without `secretKey`) is a StoreFault: a 500 on the request path,
retried by the reconciliation off it. A webhook whose signature does not verify is Invalid (400).
"""

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ParamSpec, TypeVar
from urllib.parse import quote

import stripe

from api.log import logger
from api.secrets import SecretUnavailable, stage_secret
from database.errors import Invalid, StoreFault, Unavailable
from database.models import Meeting
from payments import settings

if TYPE_CHECKING:  # the request types are hints only: stripe/params is not in the zips
    from stripe._base_address import BaseAddresses
    from stripe.params import RefundCreateParams
    from stripe.params.checkout import (
        SessionCreateParams,
        SessionCreateParamsPaymentIntentData,
    )

# Stripe's minimum for a Checkout Session's expiry is 30 minutes after its creation; a minute
# more keeps a clock running slightly behind Stripe's from being refused.
HOLD_SECONDS = 31 * 60
# One retry of a failed call (stripe-python sends the same idempotency key): a slow Stripe
# must still answer well within the function's timeout (20 s). Each try may take 2 s to
# connect and 4 s to answer (the library's default is 80 s); with the retry's back-off
# (0.5 s) one call gives up after 12.5 s at worst. Stripe answers in well under a second.
NETWORK_RETRIES = 1
TIMEOUT = (2.0, 4.0)  # seconds: (connect, read), requests' form

# The metadata naming the meeting a Checkout Session pays for, and the stage that created it:
# the webhook acts only on this stage's sessions (which it finds in its ledger), never on the
# club's other Stripe payments nor on another stage's.
MEETING_KEY = "dojoSchedulerMeeting"
STAGE_KEY = "dojoSchedulerStage"
# Stripe's tolerance on a webhook's timestamp, both ways: an older one may be a replay, a
# newer one was not signed by a clock we share.
WEBHOOK_TOLERANCE = 300
# The events each signing secret may authenticate: the platform endpoint's (Checkout) and the
# Connect endpoint's (the coaches' accounts). With one secret only, it verifies both.
PLATFORM_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.expired",
        "checkout.session.async_payment_failed",
        # A refund's fate (payments.events): Stripe's answer to the create may be `pending`.
        "refund.updated",
        "refund.failed",
        "charge.refund.updated",
    }
)
CONNECT_EVENTS = frozenset({"account.updated"})
# The metadata naming the Checkout Session a refund is for (with STAGE_KEY): its events find
# the ledger record by it.
SESSION_KEY = "dojoSchedulerSession"

settings.platform_fee_percent()  # a bad PLATFORM_FEE_PERCENT fails the cold start, loudly

P = ParamSpec("P")
R = TypeVar("R")


class Refused(StoreFault):
    """Stripe refused the request itself (invalid_request_error: 400, 404): asking again
    would get the same answer. `code` is Stripe's (`resource_missing`, ...)."""

    def __init__(self, message: str = "", *, detail: str | None = None, code: str | None = None):
        super().__init__(message, detail=detail)
        self.code = code


@dataclass(frozen=True)
class Refund:
    """A Refund as Stripe reports it (the create's answer, a retrieve, an event)."""

    id: str | None
    status: str  # pending, requires_action, succeeded, failed, canceled
    failure_reason: str | None = None

    @classmethod
    def of(cls, refund: dict) -> "Refund":
        return cls(refund.get("id"), str(refund.get("status")), refund.get("failure_reason"))


def _keys() -> dict[str, str]:
    try:
        keys = stage_secret(settings.secret_name())
    except SecretUnavailable as error:
        raise Unavailable(detail=str(error)) from error
    if not keys.get("secretKey"):
        raise StoreFault(detail="the Stripe secret holds no secretKey")
    return keys


@functools.cache
def _client_for(api_key: str) -> stripe.StripeClient:
    # STRIPE_API_BASE: the local stand-in (local/stripe.py) for `make run` without a real key.
    base = settings.api_base()
    addresses: BaseAddresses | None = {"api": base, "connect": base} if base else None
    return stripe.StripeClient(
        api_key,
        max_network_retries=NETWORK_RETRIES,
        base_addresses=addresses,
        http_client=stripe.RequestsClient(timeout=TIMEOUT),
    )


def _client() -> stripe.StripeClient:
    return _client_for(_keys()["secretKey"])


def _translated(call: Callable[P, R]) -> Callable[P, R]:
    """Stripe's errors as the data layer's: down or busy is a 503 (Unavailable), a refusal of
    the request itself Refused, anything else (auth, permission) a StoreFault; all but Refused
    are worth retrying."""

    @functools.wraps(call)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise Unavailable(detail=f"Stripe {call.__name__}: {error}") from error
        except stripe.APIError as error:  # Stripe's own 5xx
            raise Unavailable(detail=f"Stripe {call.__name__}: {error}") from error
        except stripe.InvalidRequestError as error:  # 400, 404: not an auth or Stripe fault
            detail = f"Stripe {call.__name__}: {error!r}"
            raise Refused(detail=detail, code=error.code) from error
        except stripe.StripeError as error:  # 401, 403, an idempotency clash, ...
            raise StoreFault(detail=f"Stripe {call.__name__}: {error!r}") from error

    return wrapper


def application_fee(amount: int) -> int:
    return round(amount * settings.platform_fee_percent() / 100)


@_translated
def create_checkout(meeting: Meeting, account_id: str, fee: int) -> tuple[str, str]:
    """A Checkout Session for the meeting's price, paid to the coach's connected account (a
    destination charge, less the club's `fee`), expiring after Stripe's minimum: (id, url).
    Cards only (`allowed_payment_method_types`, which replaced `payment_method_types` in
    2026-09-30.endive): a delayed method (SEPA, Bacs) completes unpaid and could confirm a
    slot after the game was due."""
    price = meeting.price
    assert price is not None  # a checkout is for a priced meeting
    page = f"{settings.frontend_host()}/meeting/{quote(meeting.id, safe='')}"
    payment_intent: SessionCreateParamsPaymentIntentData = {
        "transfer_data": {"destination": account_id},
        "metadata": {MEETING_KEY: meeting.id, STAGE_KEY: settings.stage()},
    }
    if fee:
        payment_intent["application_fee_amount"] = fee
    params: SessionCreateParams = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": price.currency,
                    "unit_amount": price.amount,
                    "product_data": {"name": f"Coaching session with {meeting.owner}"},
                },
            }
        ],
        "allowed_payment_method_types": ["card"],
        "payment_intent_data": payment_intent,
        "client_reference_id": meeting.id,
        "metadata": {
            MEETING_KEY: meeting.id,
            STAGE_KEY: settings.stage(),
            "owner": meeting.owner,
            "participant": meeting.participant,
        },
        "expires_at": int(time.time()) + HOLD_SECONDS,
        # Stripe fills in the session: the page may confirm it (the same idempotent step).
        "success_url": f"{page}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{page}?checkout=canceled",
    }
    session = _client().v1.checkout.sessions.create(params)
    assert session.url is not None  # a new session's page (Stripe clears it once completed)
    return session.id, session.url


def expire_checkout(session_id: str) -> None:
    """Best effort: nobody can pay with this session any more. A failure is only logged: a
    payment that completes anyway finds no hold and is refunded (payments.events), and the
    reconciliation asks Stripe about a released hold until it says the session expired."""
    try:
        _client().v1.checkout.sessions.expire(session_id)
    except (stripe.StripeError, Unavailable, StoreFault) as error:
        logger.warning("Could not expire a Checkout Session", session=session_id, detail=str(error))


@_translated
def retrieve_checkout(session_id: str) -> dict:
    """The Checkout Session as Stripe has it now (the reconciliation's look-up)."""
    return _client().v1.checkout.sessions.retrieve(session_id).to_dict()


@_translated
def expire_now(session_id: str) -> dict:
    """Expires an open Checkout Session (the reconciliation ending a hold): the session."""
    return _client().v1.checkout.sessions.expire(session_id).to_dict()


@_translated
def refund(
    payment_intent: str, idempotency_key: str, *, session: str, application_fee: int
) -> Refund:
    """Refunds the whole payment, the transfer to the coach reversed (a destination charge
    always has one) and the club's fee returned if the session took one (Stripe refuses
    `refund_application_fee` on a charge without a fee): the Refund, whose status may still
    be `pending`. Its metadata names the session, for its events. When Stripe says the charge
    was refunded already (an earlier attempt that succeeded unseen: a whole refund cannot be
    made twice), that earlier refund.

    Stripe keeps an idempotency key's first answer, failures included, for 24 h: the caller
    gives each attempt its own key (database.payments.claim_refund_attempt), so a retry asks
    again instead of replaying the failure; the network retries within one attempt reuse it."""
    params: RefundCreateParams = {
        "payment_intent": payment_intent,
        "reverse_transfer": True,
        "metadata": {SESSION_KEY: session, STAGE_KEY: settings.stage()},
    }
    if application_fee:
        params["refund_application_fee"] = True
    try:
        made = _client().v1.refunds.create(params, {"idempotency_key": idempotency_key})
    except stripe.InvalidRequestError as error:
        if error.code != "charge_already_refunded":
            raise
        return _earlier_refund(payment_intent)
    return Refund.of(made.to_dict())


def _earlier_refund(payment_intent: str) -> Refund:
    """The refund that refunded the payment already (the newest one not failed), so that
    its status, not a guess, is recorded. Stripe down: raised, the attempt is retried."""
    try:
        found = _client().v1.refunds.list({"payment_intent": payment_intent, "limit": 10}).data
    except stripe.InvalidRequestError as error:  # a stand-in without the listing, say
        logger.warning("Could not list a payment's refunds", detail=str(error))
        found = []
    for refund in found:
        if refund.status not in ("failed", "canceled"):
            return Refund.of(refund.to_dict())
    # Refunded, says Stripe, by nothing it lists: refunded all the same (no id to follow).
    return Refund(None, "succeeded")


@_translated
def retrieve_refund(refund_id: str) -> Refund:
    """The Refund as Stripe has it now (the reconciliation following a pending one)."""
    return Refund.of(_client().v1.refunds.retrieve(refund_id).to_dict())


@_translated
def create_account(username: str) -> str:
    """A Stripe Connect Express account for the coach; the same one for a retried request
    (idempotency key), and named in its metadata for the `account.updated` webhook."""
    account = _client().v1.accounts.create(
        {
            "type": "express",
            "country": settings.account_country(),
            "metadata": {"username": username},
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
        },
        # Stripe keeps a key 24 h per Stripe account, which two stages may share: the stage
        # in it keeps dev's alice from getting prod's alice's account.
        {"idempotency_key": f"{settings.stage()}-connect-{username}"},
    )
    return account.id


@_translated
def onboarding_link(account_id: str) -> str:
    """A one-time link to Stripe's Express onboarding, back to the frontend afterwards."""
    page = f"{settings.frontend_host()}/coach/payments"
    link = _client().v1.account_links.create(
        {
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": f"{page}?onboarding=refresh",
            "return_url": f"{page}?onboarding=done",
        }
    )
    return link.url


def verify_event(payload: bytes, signature: str | None) -> dict:
    """The event (a plain dict, as Stripe sent it) in a webhook request whose Stripe-Signature
    verifies with one of the stage's signing secrets, timestamped within Stripe's tolerance
    either way, of a type that secret's endpoint sends; Invalid (400) otherwise, also for a
    signed body that is not an event. Two endpoints may deliver here, each with its own
    secret: the platform's (Checkout) and the Connect one (the coaches' `account.updated`)."""
    keys = _keys()
    platform, connect = keys.get("webhookSecret"), keys.get("connectWebhookSecret")
    if not platform:
        raise StoreFault(detail="the Stripe secret holds no webhookSecret")
    endpoints = [(platform, PLATFORM_EVENTS | (frozenset() if connect else CONNECT_EVENTS))]
    if connect:
        endpoints.append((connect, CONNECT_EVENTS))
    failure = None
    for secret, kinds in endpoints:
        try:
            stripe.WebhookSignature.verify_header(payload, signature, secret, WEBHOOK_TOLERANCE)
        except stripe.SignatureVerificationError as error:
            failure = error
            continue
        if _signed_at(signature or "") > time.time() + WEBHOOK_TOLERANCE:  # verified: not None
            raise Invalid("Invalid Stripe signature", detail="timestamp in the future")
        event = _event(payload)
        if event["type"] not in kinds:
            logger.warning("Event type not sent by this endpoint", type=event["type"])
            event["type"] = "ignored"
        return event
    raise Invalid("Invalid Stripe signature", detail=str(failure)) from failure


def _signed_at(signature: str) -> int:
    """The `t=` of a header verify_header accepted (so it is there and an integer)."""
    return int(dict(part.split("=", 1) for part in signature.split(",") if "=" in part)["t"])


def _event(payload: bytes) -> dict:
    """A verified body as an event: an object with `id`, `type`, `created` and `data.object`."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError) as error:
        raise Invalid("Invalid webhook payload", detail=str(error)) from error
    data = event.get("data") if isinstance(event, dict) else None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("object"), dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and type(event.get("created")) is int
    ):
        raise Invalid("Invalid webhook payload: not a Stripe event")
    return event
