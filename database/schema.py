"""The contract's models in pydantic: the published description of the API.

The OpenAPI document (`make run` serves it) is generated from these. No function imports this
module: at run time the same rules are plain code in database/models.py, which starts
~110 ms faster; tests/test_schema.py checks on generated inputs that both accept, reject and
produce exactly the same things. Python field names are the JSON names, exactly.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import uuid4

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    RootModel,
    StrictBool,
    StrictInt,
    model_validator,
)

from database.models import (
    ALL_COHORTS,
    AVAILABILITY_TYPES,
    AWAITING_PAYMENT,
    BOOKED,
    CANCELED,
    COHORTS,
    CURRENCIES,
    MAX_DESCRIPTION,
    MAX_LOCATION,
    MAX_PARTICIPANTS,
    MAX_PRICE,
    MAX_TEXT,
    MIN_PRICE,
    SCHEDULED,
)
from database.times import format_time, parse_time

# The same lists the functions check against.
Cohort = Literal[COHORTS]
AvailabilityType = Literal[AVAILABILITY_TYPES]


def _to_instant(value: object) -> datetime:
    if isinstance(value, datetime):  # a model built in code, e.g. from another model
        return value
    return parse_time(value)


# An RFC 3339 instant in, the fixed-width UTC form out (see database.times).
Time = Annotated[
    datetime, BeforeValidator(_to_instant), PlainSerializer(format_time, return_type=str)
]
# Free text from a client, bounded so one request cannot bloat an item.
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


def _null_is(default: object) -> BeforeValidator:
    # An optional field sent as null is absent, as the functions read it.
    return BeforeValidator(lambda value: default if value is None else value)


Location = Annotated[str, Field(max_length=MAX_LOCATION), _null_is("")]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION), _null_is("")]
# JSON Schema's "integer" takes 2.0 as 2, and so do the functions. (After the bounds: a
# validator before them would hide them from the JSON Schema.)
_integral = BeforeValidator(
    lambda value: int(value) if isinstance(value, float) and value.is_integer() else value
)
Seats = Annotated[StrictInt, Field(ge=1, le=MAX_PARTICIPANTS), _integral, _null_is(1)]
Amount = Annotated[StrictInt, Field(ge=MIN_PRICE, le=MAX_PRICE), _integral]
# Set by the API only: published read-only, and ignored in a request body.
ReadOnly = {"readOnly": True}


def _new_id(value: object) -> object:
    # The original set a fresh UUID v4 when the client sent none (or an empty one).
    return str(uuid4()) if value is None or value == "" else value


class User(BaseModel):
    """A player's public profile."""

    username: Name
    discordUsername: Text = ""
    chesscomUsername: Text = ""
    lichessUsername: Text = ""
    dojoCohort: Cohort | Literal[""] = ""  # empty until the player picks one


class OwnUser(User):
    """A player's profile as the player sees it (`GET /user`, `PUT /user`): with settings."""

    disableBookingNotifications: bool = False
    disableCancellationNotifications: bool = False


class UserUpdate(BaseModel):
    """Body of `PUT /user`: the public fields a player may change. Absent fields are kept."""

    # Accepted only when it is the caller's own, so never a change: read-only, as published.
    username: Text | None = Field(default=None, json_schema_extra={"readOnly": True})
    discordUsername: Text | None = None
    chesscomUsername: Text | None = None
    lichessUsername: Text | None = None
    dojoCohort: Cohort | None = None
    disableBookingNotifications: StrictBool | None = None
    disableCancellationNotifications: StrictBool | None = None


class Participant(BaseModel):
    """A player who joined a group session."""

    username: str
    discord: str
    cohort: str


class Price(BaseModel):
    """What a coach charges for a one-to-one session, in minor units (cents)."""

    amount: Amount
    currency: Literal[CURRENCIES]


# Only on a priced availability or meeting: omitted (not null) on a free one.
OptionalPrice = Annotated[Price | None, Field(exclude_if=lambda price: price is None)]


class Availability(BaseModel):
    """An offer to play, by its owner (the caller); startTime is before endTime."""

    owner: Name
    ownerDiscord: Name
    ownerCohort: Cohort
    id: Annotated[Text, BeforeValidator(_new_id)] = Field(default="", validate_default=True)
    startTime: Time  # the window in which the owner is willing to *start* a game
    endTime: Time
    types: list[AvailabilityType] = Field(min_length=1)
    cohorts: list[Cohort | Literal[ALL_COHORTS]] = Field(min_length=1)
    location: Location = ""
    description: Description = ""
    maxParticipants: Seats = 1  # 2 or more: a group session
    status: Literal[SCHEDULED, BOOKED, CANCELED] = Field(SCHEDULED, json_schema_extra=ReadOnly)
    participants: list[Participant] = Field([], json_schema_extra=ReadOnly)
    # Payments on (dev, prod) and the owner's Stripe account takes charges; one-to-one only.
    price: OptionalPrice = None

    @model_validator(mode="before")
    @classmethod
    def _ignore_read_only(cls, data: object) -> object:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in ("status", "participants")}
        return data

    @model_validator(mode="after")
    def _starts_before_it_ends(self) -> "Availability":
        if self.startTime >= self.endTime:
            raise ValueError("startTime must be before endTime")
        if self.price is not None and self.maxParticipants > 1:
            raise ValueError("price is only for one-to-one availabilities")
        return self


class BookingRequest(BaseModel):
    """Body of `PUT /availability/book`. `startTime` and `type` are required for a one-to-one
    availability; a group session starts at its own start and offers its own types."""

    owner: Name
    id: Name
    startTime: Time | None = None
    type: AvailabilityType | None = None


class Meeting(BaseModel):
    owner: str  # the availability's owner
    participant: str  # who booked it
    id: str  # the availability's id
    startTime: Time
    type: AvailabilityType
    location: str = ""
    description: str = ""
    # AWAITING_PAYMENT: a priced slot held while the player pays on Stripe Checkout.
    status: Literal[SCHEDULED, CANCELED, AWAITING_PAYMENT] = SCHEDULED
    price: OptionalPrice = None
    # The Stripe Checkout page that pays for a held meeting: while AWAITING_PAYMENT only.
    checkoutUrl: Annotated[str | None, Field(exclude_if=lambda url: url is None)] = None


class PayoutAccount(BaseModel):
    """The caller's Stripe Connect account (`GET /payments/account`)."""

    connected: bool
    chargesEnabled: bool
    detailsSubmitted: bool


class Onboarding(PayoutAccount):
    """`POST /payments/account`: the account, and a one-time link to Stripe's onboarding."""

    onboardingUrl: str


class MeetingWithOpponent(BaseModel):
    meeting: Meeting
    opponent: User


class AvailabilityPage(BaseModel):
    availabilities: list[Availability]
    lastEvaluatedKey: str | None = None  # omitted on the last page


class MeetingPage(BaseModel):
    meetings: list[Meeting]
    lastEvaluatedKey: str | None = None


class MeetingOrSession(RootModel[Meeting | Availability]):
    """What booking and cancelling answer: a one-to-one Meeting (with its Checkout URL when it
    is priced and held), or the group session (an Availability) joined, left or canceled."""


class CalendarPage(BaseModel):
    availabilities: list[Availability]  # the caller's own, and the group sessions they joined
    meetings: list[Meeting]
    lastEvaluatedKey: str | None = None


class ErrorBody(BaseModel):
    code: int
    message: str
