"""The contract's records as the functions use them, and the rules a client's input must meet.

Standard library only. pydantic (see database/schema.py) would cost a function ~110 ms of
cold start to import and build its validators, more than everything else above the floor
of "import botocore, create a client, make one call" together (`make bench`). So the
functions validate with the plain code below, and schema.py's pydantic models stay the
published description of the same contract: the OpenAPI document is generated from them, and
tests/test_schema.py checks, on generated inputs, that both accept and produce exactly
the same things.

Each record's `to_json()` holds only the contract's public fields: the stored-only
attributes (`email`, `name`, `expirationTime`, a meeting's `canceledBy` and snapshot) have no
field here, so they cannot reach a client.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import uuid4

from database.errors import Invalid
from database.times import format_time, parse_stored, parse_time

COHORTS = (
    "0-400", "400-600", "600-700",
    "700-800", "800-900", "900-1000", "1000-1100", "1100-1200", "1200-1300", "1300-1400",
    "1400-1500", "1500-1600", "1600-1700", "1700-1800", "1800-1900", "1900-2000", "2000-2100",
    "2100-2200", "2200-2300", "2300-2400",
    "2400+",
)  # fmt: skip
ALL_COHORTS = "ALL_COHORTS"
AVAILABILITY_TYPES = (
    "CLASSICAL_GAME",
    "OPENING_SPARRING",
    "MIDDLEGAME_SPARRING",
    "ENDGAME_SPARRING",
    "ROOK_ENDGAME_PROGRESSION",
    "CLASSIC_ANALYSIS",
    "BOOK_STUDY",
)
# Free text from a client is bounded so one request cannot bloat an item.
MAX_TEXT = 100
MAX_LOCATION = 200
MAX_DESCRIPTION = 1000
MAX_PARTICIPANTS = 100  # a group session's seats; 1 is a one-to-one availability
# A price, in minor units (cents), in one of the currencies whose Stripe minimum charge is at
# most 50 minor units; the maximum bounds a typo, not a coach.
CURRENCIES = ("usd", "eur", "gbp", "cad", "aud")
MIN_PRICE = 50
MAX_PRICE = 1_000_000

# An availability is open (SCHEDULED); a group session is BOOKED when full and CANCELED when its
# owner cancels it. A meeting is SCHEDULED or CANCELED, and AWAITING_PAYMENT while a priced
# slot is held for the player's Stripe Checkout (docs/payments.md).
SCHEDULED = "SCHEDULED"
BOOKED = "BOOKED"
CANCELED = "CANCELED"
AWAITING_PAYMENT = "AWAITING_PAYMENT"


def _text(
    data: dict, name: str, *, required: bool = True, min_length: int = 1, max_length=MAX_TEXT
) -> str | None:
    """A string field. Absent (or null) is an error when `required`, else None."""
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    if not min_length <= len(value) <= max_length:
        raise Invalid(f"{name} must be {min_length} to {max_length} characters long")
    return value


def _integer(data: dict, name: str, low: int, high: int, *, label: str = "") -> int | None:
    """An integer field from `low` to `high`, None when absent; `label` names it in the message
    (default: `name`)."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON does not tell 2 from 2.0, nor does the schema's "integer"
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{label or name} must be an integer from {low} to {high}")
    return value


def _flag(data: dict, name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false")
    return value


def _choice(data: dict, name: str, choices: tuple[str, ...], *, required: bool = True):
    value = data.get(name)
    if value is None and not required:
        return None
    if value not in choices:
        raise Invalid(f"{name} must be one of {', '.join(choices)}")
    return value


def _choices(data: dict, name: str, choices: tuple[str, ...]) -> list[str]:
    values = data.get(name)
    if not isinstance(values, list) or not values:
        raise Invalid(f"{name} must be a non-empty list")
    for value in values:
        if value not in choices:
            raise Invalid(f"{name} must hold only {', '.join(choices)}")
    return values


def _time(data: dict, name: str, *, required: bool = True) -> datetime | None:
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name} is required")
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise Invalid(f"{name} {error}") from error


@dataclass(slots=True)
class User:
    """A player's public profile."""

    username: str
    discordUsername: str = ""
    chesscomUsername: str = ""
    lichessUsername: str = ""
    dojoCohort: str = ""  # empty until the player picks one
    # The player's own settings: returned to them (GET /user), never on the public route.
    disableBookingNotifications: bool = False
    disableCancellationNotifications: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "User":
        return cls(
            username=item["username"],
            discordUsername=item.get("discordUsername", ""),
            chesscomUsername=item.get("chesscomUsername", ""),
            lichessUsername=item.get("lichessUsername", ""),
            dojoCohort=item.get("dojoCohort", ""),
            disableBookingNotifications=item.get("disableBookingNotifications", False),
            disableCancellationNotifications=item.get("disableCancellationNotifications", False),
        )

    def to_json(self) -> dict[str, str]:
        """The public profile."""
        return {
            "username": self.username,
            "discordUsername": self.discordUsername,
            "chesscomUsername": self.chesscomUsername,
            "lichessUsername": self.lichessUsername,
            "dojoCohort": self.dojoCohort,
        }

    def to_own_json(self) -> dict[str, Any]:
        """The profile with the player's settings, for the player alone."""
        return {
            **self.to_json(),
            "disableBookingNotifications": self.disableBookingNotifications,
            "disableCancellationNotifications": self.disableCancellationNotifications,
        }


@dataclass(slots=True)
class UserUpdate:
    """Body of `PUT /user`: the public fields to change (absent or null ones are kept).

    `username` may be sent, but only as the caller's own (the handler checks); it is never a
    change, nor are `email` and `name`, which only Cognito sets."""

    username: str | None
    changes: dict[str, str | bool]

    @classmethod
    def from_json(cls, data: dict) -> "UserUpdate":
        changes = {
            name: value
            for name in ("discordUsername", "chesscomUsername", "lichessUsername")
            if (value := _text(data, name, required=False, min_length=0)) is not None
        }
        cohort = _choice(data, "dojoCohort", COHORTS, required=False)
        if cohort is not None:
            changes["dojoCohort"] = cohort
        for name in ("disableBookingNotifications", "disableCancellationNotifications"):
            if (flag := _flag(data, name)) is not None:
                changes[name] = flag
        username = _text(data, "username", required=False, min_length=0)
        return cls(username=username, changes=changes)


@dataclass(slots=True)
class Participant:
    """A player who joined a group session, as the session shows them."""

    username: str
    discord: str
    cohort: str

    def to_json(self) -> dict[str, str]:
        return {"username": self.username, "discord": self.discord, "cohort": self.cohort}


@dataclass(slots=True)
class Price:
    """What a coach charges for a one-to-one session: `amount` in minor units (cents)."""

    amount: int
    currency: str

    @classmethod
    def from_json(cls, value: Any) -> "Price | None":
        if value is None:
            return None
        if not isinstance(value, dict):
            raise Invalid("price must be an object with amount and currency")
        amount = _integer(value, "amount", MIN_PRICE, MAX_PRICE, label="price.amount")
        if amount is None:
            raise Invalid(f"price.amount must be an integer from {MIN_PRICE} to {MAX_PRICE}")
        currency = value.get("currency")
        if currency not in CURRENCIES:
            raise Invalid(f"price.currency must be one of {', '.join(CURRENCIES)}")
        return cls(amount=amount, currency=currency)

    @classmethod
    def from_item(cls, item: dict | None) -> "Price | None":
        return item and cls(amount=item["amount"], currency=item["currency"])

    def to_json(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}


@dataclass(slots=True)
class Availability:
    owner: str
    ownerDiscord: str
    ownerCohort: str
    id: str
    startTime: datetime  # the window in which the owner is willing to *start* a game
    endTime: datetime
    types: list[str]
    cohorts: list[str]
    location: str = ""
    description: str = ""
    maxParticipants: int = 1  # 2 or more: a group session
    # Set by the API, never by a client (read-only in the schema, ignored in a body).
    status: str = SCHEDULED
    participants: list[Participant] = field(default_factory=list)  # in joining order
    price: Price | None = None  # a paid coaching session (one-to-one only); None is free

    @classmethod
    def from_json(cls, data: dict) -> "Availability":
        """Body of `PUT /availability`; a missing or empty `id` gets a new UUID v4 (as the
        original did)."""
        availability = cls(
            owner=_text(data, "owner"),
            ownerDiscord=_text(data, "ownerDiscord"),
            ownerCohort=_choice(data, "ownerCohort", COHORTS),
            id=_text(data, "id", required=False, min_length=0) or str(uuid4()),
            startTime=_time(data, "startTime"),
            endTime=_time(data, "endTime"),
            types=_choices(data, "types", AVAILABILITY_TYPES),
            cohorts=_choices(data, "cohorts", (*COHORTS, ALL_COHORTS)),
            location=_text(data, "location", required=False, min_length=0, max_length=MAX_LOCATION)
            or "",
            description=_text(
                data, "description", required=False, min_length=0, max_length=MAX_DESCRIPTION
            )
            or "",
            maxParticipants=_integer(data, "maxParticipants", 1, MAX_PARTICIPANTS) or 1,
            price=Price.from_json(data.get("price")),
        )
        if availability.startTime >= availability.endTime:
            raise Invalid("startTime must be before endTime")
        if availability.price is not None and availability.is_group:
            raise Invalid("price is only for one-to-one availabilities (maxParticipants 1)")
        return availability

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Availability":
        # Version 1 items have no location, description, seats or participants.
        joined = sorted(
            (item.get("participants") or {}).values(),
            key=lambda p: (p["joinedAt"], p["username"]),
        )
        return cls(
            owner=item["owner"],
            ownerDiscord=item["ownerDiscord"],
            ownerCohort=item["ownerCohort"],
            id=item["id"],
            startTime=parse_stored(item["startTime"]),
            endTime=parse_stored(item["endTime"]),
            types=item["types"],
            cohorts=item["cohorts"],
            location=item.get("location", ""),
            description=item.get("description", ""),
            maxParticipants=item.get("maxParticipants", 1),
            status=item.get("status", SCHEDULED),
            participants=[Participant(p["username"], p["discord"], p["cohort"]) for p in joined],
            price=Price.from_item(item.get("price")),
        )

    def to_json(self) -> dict[str, Any]:
        return _priced(
            self.price,
            {
                "owner": self.owner,
                "ownerDiscord": self.ownerDiscord,
                "ownerCohort": self.ownerCohort,
                "id": self.id,
                "startTime": format_time(self.startTime),
                "endTime": format_time(self.endTime),
                "types": self.types,
                "cohorts": self.cohorts,
                "location": self.location,
                "description": self.description,
                "maxParticipants": self.maxParticipants,
                "status": self.status,
                "participants": [participant.to_json() for participant in self.participants],
            },
        )

    @property
    def is_group(self) -> bool:
        return self.maxParticipants > 1

    def admits(self, cohort: str) -> bool:
        return ALL_COHORTS in self.cohorts or cohort in self.cohorts

    def has_joined(self, username: str) -> bool:
        return any(participant.username == username for participant in self.participants)


@dataclass(slots=True)
class BookingRequest:
    """Body of `PUT /availability/book`. `startTime` and `type` choose the game of a one-to-one
    availability (required there); a group session starts when it starts and offers its types."""

    owner: str
    id: str
    startTime: datetime | None
    type: str | None

    @classmethod
    def from_json(cls, data: dict) -> "BookingRequest":
        return cls(
            owner=_text(data, "owner"),
            id=_text(data, "id"),
            startTime=_time(data, "startTime", required=False),
            type=_choice(data, "type", AVAILABILITY_TYPES, required=False),
        )


@dataclass(slots=True)
class Meeting:
    owner: str  # the availability's owner
    participant: str  # who booked it
    id: str  # the availability's id
    startTime: datetime
    type: str
    location: str = ""
    description: str = ""
    status: str = SCHEDULED
    price: Price | None = None  # what the participant pays (copied from the availability)
    checkoutUrl: str | None = None  # where to pay, while AWAITING_PAYMENT only

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Meeting":
        status = item.get("status", SCHEDULED)  # version 1 meetings had no status
        return cls(
            owner=item["owner"],
            participant=item["participant"],
            id=item["id"],
            startTime=parse_stored(item["startTime"]),
            type=item["type"],
            location=item.get("location", ""),
            description=item.get("description", ""),
            status=status,
            price=Price.from_item(item.get("price")),
            checkoutUrl=item.get("checkoutUrl") if status == AWAITING_PAYMENT else None,
        )

    def to_json(self) -> dict[str, Any]:
        published = _priced(
            self.price,
            {
                "owner": self.owner,
                "participant": self.participant,
                "id": self.id,
                "startTime": format_time(self.startTime),
                "type": self.type,
                "location": self.location,
                "description": self.description,
                "status": self.status,
            },
        )
        if self.checkoutUrl is not None:
            published["checkoutUrl"] = self.checkoutUrl
        return published

    def other_member(self, username: str) -> str:
        return self.participant if username == self.owner else self.owner


def _priced(price: Price | None, published: dict[str, Any]) -> dict[str, Any]:
    """A record's JSON with `price` only when it has one: a free slot looks as in version 2."""
    return published if price is None else {**published, "price": price.to_json()}


@dataclass(slots=True)
class Payment:
    """A priced meeting's Stripe side, stored with the meeting and never returned: the Checkout
    Session that holds the slot, the PaymentIntent once paid, and a refund owed or made."""

    checkout_session: str
    payment_intent: str | None = None
    refund_due: bool = False
    refund: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Payment | None":
        if "checkoutSessionId" not in item:
            return None
        return cls(
            checkout_session=item["checkoutSessionId"],
            payment_intent=item.get("paymentIntentId"),
            refund_due=item.get("refundDue", False),
            refund=item.get("refundId"),
        )


@dataclass(slots=True)
class PayoutAccount:
    """A coach's Stripe Connect (Express) account, as the users table keeps it: created once,
    kept current by Stripe's `account.updated` webhook. Never on a public profile."""

    account_id: str | None = None
    charges_enabled: bool = False
    details_submitted: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "PayoutAccount":
        return cls(
            account_id=item.get("stripeAccountId"),
            charges_enabled=item.get("stripeChargesEnabled", False),
            details_submitted=item.get("stripeDetailsSubmitted", False),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "connected": self.account_id is not None,
            "chargesEnabled": self.charges_enabled,
            "detailsSubmitted": self.details_submitted,
        }
