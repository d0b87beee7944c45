"""The contract's records, written once as msgspec Structs: the functions validate request
bodies with them, and the OpenAPI document (local/openapi.py) is generated from them.

Each field's type states its rule (lengths, ranges, the cohorts and types offered...), and
`from_json` checks a body against it with `msgspec.convert`; an error names the field
(`ownerDiscord: Expected `str` of length >= 1`). `msgspec.json.schema_components` turns the
same Structs into JSON Schema, so the published document and what the functions accept cannot
drift (tests/unit/test_schema.py checks it on generated bodies with a JSON Schema validator).

Cold start, measured: msgspec imports in 2.2-2.4 ms after a handler's other imports, and this
module with it in ~4.2 ms (~3.2 ms when its records were dataclasses); with a first parse, a
fresh interpreter pays ~3.5 ms more than the plain-code rules did, 2% of the ~165 ms floor of
"import botocore, create a client, make one call" (`make bench`, on the 2-core machine).
pydantic cost ~110 ms: it is in no function, and not in this project any more
(docs/performance.md, "What the figures say", has them).

Two rules msgspec does not have are custom types decoded by `_decoded` and published by
`schema_of`: `Instant`, an RFC 3339 time read by database.times' own strict parser (offset
required, any precision), and `Whole` (seats, a price's amount), an integer as JSON Schema's
"integer" reads it: 2.0 is 2, as the published document says.
A body's null means absent (its default), and `status` and `participants` are the API's:
ignored in a body, published readOnly.

Each record's `to_json()` holds only the contract's public fields: the stored-only
attributes (`email`, `name`, `expirationTime`, a meeting's `canceledBy` and snapshot, payment
details, Stripe account ids) have no field in a published Struct, so they cannot reach a
client.
"""

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

import msgspec
from msgspec import Meta, Struct

from database.errors import Invalid
from database.times import format_time, parse_stored, parse_time
from rules.booking import check_window
from rules.cohorts import COHORTS, Cohort
from rules.membership import SUBSCRIBED, MembershipStatus  # rules/membership.py decides it
from rules.zones import DEFAULT_ZONE, is_zone

# Each choice is written once, as the type msgspec validates with (a type checker reads only
# literal values there), and listed from it (the cohorts' in rules/cohorts.py).
AvailabilityType = Literal[
    "CLASSICAL_GAME",
    "OPENING_SPARRING",
    "MIDDLEGAME_SPARRING",
    "ENDGAME_SPARRING",
    "ROOK_ENDGAME_PROGRESSION",
    "CLASSIC_ANALYSIS",
    "BOOK_STUDY",
    "ANALYZE_OWN_GAME",  # the original added it on 2022-11-05; its frontend sends it
]
AVAILABILITY_TYPES: tuple[AvailabilityType, ...] = get_args(AvailabilityType)
# Free text from a client is bounded so one request cannot bloat an item.
MAX_TEXT = 100
MAX_LOCATION = 200
MAX_DESCRIPTION = 1000
MAX_PARTICIPANTS = 100  # a group session's seats; 1 is a one-to-one availability
# A username as Cognito issues them (at most 128 characters): a longer one in a path names no
# player, and is answered 404 before any database call (DynamoDB would refuse such a key).
MAX_USERNAME = 128
# An id the API issued: a UUID in the canonical form `str(uuid4())` writes (lower-case hex,
# 8-4-4-4-12). The length makes the pattern a whole-string match (JSON Schema has no `\Z`,
# and a `$` would let a trailing newline through).
ID_LENGTH = 36
ID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Times are written in years up to this one: an item expires (DynamoDB TTL) RETENTION after its
# time, which must still be a date (datetime ends with the year 9999; an offset moves a time by
# less than a day).
LAST_YEAR = 9998
# A price, in minor units (cents), in one of the currencies whose Stripe minimum charge is at
# most 50 minor units; the maximum bounds a typo, not a coach.
Currency = Literal["usd", "eur", "gbp", "cad", "aud"]
CURRENCIES: tuple[Currency, ...] = get_args(Currency)
MIN_PRICE = 50
MAX_PRICE = 1_000_000

# An availability is open (SCHEDULED); a group session is BOOKED when full and CANCELED when its
# owner cancels it. A meeting is SCHEDULED or CANCELED, and AWAITING_PAYMENT while a priced
# slot is held for the player's Stripe Checkout (docs/payments.md).
SCHEDULED = "SCHEDULED"
BOOKED = "BOOKED"
CANCELED = "CANCELED"
AWAITING_PAYMENT = "AWAITING_PAYMENT"


class Instant(datetime):
    """An RFC 3339 time in a request, as database.times.parse_time reads it (an aware UTC
    datetime); records read from the store hold plain datetimes, which compare the same."""


class Whole(int):
    """An integer as JSON Schema's "integer" reads it, from `low` to `high`: JSON does not tell
    2 from 2.0, nor does the published schema, so 2.0 is 2; 2.5, "2" and true are not."""

    low: ClassVar[int]
    high: ClassVar[int]


class Seats(Whole):
    """A session's seats: 1 is a one-to-one availability, 2 or more a group session."""

    low, high = 1, MAX_PARTICIPANTS


class Amount(Whole):
    """A price in minor units (cents)."""

    low, high = MIN_PRICE, MAX_PRICE


class NoticeMinutes(Whole):
    """How long before an availability's start it may still be booked (contract v4): 30 days."""

    low, high = 0, 43200


class BookingsPerDay(Whole):
    """A coach's one-to-one meetings a day, in their time zone; 0 is no limit (contract v4)."""

    low, high = 0, 50


class ReminderMinute(Whole):
    """How long before a meeting's start a reminder is due (contract v4): 5 minutes to 7 days."""

    low, high = 5, 10080


# A player's reminders (contract v4): each lead time at most once, at most 3; [] is none.
MAX_REMINDERS = 3
DEFAULT_REMINDER_MINUTES = (60,)
ReminderMinutes = Annotated[
    list[ReminderMinute],
    Meta(max_length=MAX_REMINDERS, extra_json_schema={"uniqueItems": True}),
]


def read_json(raw: bytes | str, what: str) -> Any:
    """JSON from a client (a body, a page token) as RFC 8259 reads it; Invalid, saying `what`
    it is, for anything else. Stricter than Python's `json`, which takes what no client means
    and the store cannot keep: lone UTF-16 surrogates (`"\\ud800"`, not Unicode text: DynamoDB
    refuses it), NaN and Infinity. Nesting deeper than the interpreter's stack is a
    RecursionError (not a ValueError): a 400 too."""
    try:
        return msgspec.json.decode(raw)
    except (msgspec.MsgspecError, RecursionError) as error:
        raise Invalid(f"{what} is not valid JSON", detail=f"{what}: {error!r}"[:300]) from None


def is_id(value: object) -> bool:
    """An id the API issues: a UUID in canonical form (ID_PATTERN)."""
    return isinstance(value, str) and len(value) == ID_LENGTH and _ID.match(value) is not None


def is_username(value: object) -> bool:
    """A name Cognito could have issued (MAX_USERNAME)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_USERNAME


_ID = re.compile(ID_PATTERN)


def _decoded(kind: type, value: Any) -> Any:
    """msgspec's hook for the custom types: the value as JSON gave it."""
    if kind is Instant:
        parsed = parse_time(value)  # ValueError: msgspec reports it at the field's path
        if int(value[:4]) > LAST_YEAR:  # as written, as the published pattern reads it
            raise ValueError(f"must be before the year {LAST_YEAR + 1}")
        return Instant.combine(parsed.date(), parsed.timetz())
    if issubclass(kind, Whole):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not kind.low <= value <= kind.high
        ):
            raise ValueError(f"must be an integer from {kind.low} to {kind.high}")
        return kind(value)
    raise NotImplementedError


def schema_of(kind: type) -> dict[str, Any]:
    """The custom types' JSON Schema (msgspec's `schema_hook`)."""
    if kind is Instant:
        # RFC 3339, as database.times reads it, in a year up to LAST_YEAR (9998)
        return {"type": "string", "format": "date-time", "pattern": _UP_TO_LAST_YEAR}
    if issubclass(kind, Whole):
        return {"type": "integer", "minimum": kind.low, "maximum": kind.high}
    raise NotImplementedError


_UP_TO_LAST_YEAR = r"^(?:[0-8]\d{3}|9[0-8]\d{2}|99[0-8]\d|999[0-8])-"  # 0000 to LAST_YEAR


# Set by the API only: published read-only, and ignored in a request body.
SET_BY_THE_API = ("status", "participants", "seriesId")
READ_ONLY = Meta(extra_json_schema={"readOnly": True})


def _decode(kind: type, data: dict) -> Any:
    """A request body (a JSON object) as the Struct `kind`; Invalid names the broken field."""
    given = {
        name: value
        for name, value in data.items()
        if value is not None and name not in SET_BY_THE_API  # null is absent: the default
    }
    try:
        return msgspec.convert(given, kind, dec_hook=_decoded)
    except msgspec.ValidationError as error:
        # "Expected `str` of length >= 1 - at `$.owner`" reads "owner: Expected ..."
        message, _, path = str(error).partition(" - at `$.")
        raise Invalid(f"{path.rstrip('`')}: {message}" if path else message) from None


Id = Annotated[str, Meta(min_length=ID_LENGTH, max_length=ID_LENGTH, pattern=ID_PATTERN)]
# An availability's types and cohorts: some of those defined, each once (so one request cannot
# bloat an item, nor every search page that covers it). The bounds grow with the lists.
Types = Annotated[
    list[AvailabilityType],
    Meta(min_length=1, max_length=len(AVAILABILITY_TYPES), extra_json_schema={"uniqueItems": True}),
]
Cohorts = Annotated[
    list[Cohort | Literal["ALL_COHORTS"]],
    Meta(min_length=1, max_length=len(COHORTS) + 1, extra_json_schema={"uniqueItems": True}),
]
# Free text from a client, bounded so one request cannot bloat an item.
Text = Annotated[str, Meta(max_length=MAX_TEXT)]
Name = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)]
Location = Annotated[str, Meta(max_length=MAX_LOCATION)]
Description = Annotated[str, Meta(max_length=MAX_DESCRIPTION)]
# An IANA time-zone name (rules.zones checks it is one tzdata knows).
# Published with tzdata's names as its `enum` (local/openapi.py): not listed here, so that no
# function reads tzdata's list unless it checks a name.
ZONE_MARK = "x-iana-time-zone"
Zone = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        # (no `examples`: schemathesis would build whole bodies from them, unfiltered)
        extra_json_schema={ZONE_MARK: True},
    ),
]
# An RRULE's grammar as contract v4 allows it (rules.recurrence checks the rest: FREQ given,
# each part once, BYDAY for WEEKLY only, and the rules across fields).
_DAY = "(?:MO|TU|WE|TH|FR|SA|SU)"
_RULE_PART = (
    "(?:FREQ=(?:DAILY|WEEKLY)|INTERVAL=[1-4]"
    f"|BYDAY={_DAY}(?:,{_DAY}){{0,6}}"
    "|COUNT=(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-5][0-9]|260)"
    "|UNTIL=[0-9]{8}T[0-9]{6}Z)"
)
RULE_PATTERN = f"^{_RULE_PART}(?:;{_RULE_PART}){{0,4}}$"


def _check_zone(value: str | None, field: str) -> None:
    if value is not None and not is_zone(value):
        raise Invalid(f"{field}: must be an IANA time-zone name such as Europe/Berlin")


class User(Struct):
    """A player's public profile."""

    username: Name
    discordUsername: Text = ""
    chesscomUsername: Text = ""
    lichessUsername: Text = ""
    dojoCohort: Cohort | Literal[""] = ""  # empty until the player picks one

    def to_json(self) -> dict[str, str]:
        """The public profile."""
        return {
            "username": self.username,
            "discordUsername": self.discordUsername,
            "chesscomUsername": self.chesscomUsername,
            "lichessUsername": self.lichessUsername,
            "dojoCohort": self.dojoCohort,
        }


class OwnUser(User):
    """A player's profile as the player sees it (`GET /user`, `PUT /user`): with settings.
    What the users table gives (email and name, stored for the club, are not read)."""

    disableBookingNotifications: bool = False
    disableCancellationNotifications: bool = False
    # Set by the API only (membership/): a player who signed up before membership existed, or
    # on a stage without a shop, is SUBSCRIBED.
    subscriptionStatus: MembershipStatus = SUBSCRIBED
    # Set by an operator only (docs/api.md, "Admins"): never a field of UserUpdate.
    isAdmin: Annotated[bool, READ_ONLY] = False
    # Contract v4: what "that day" and "the same time every week" mean for this player, and
    # as a coach how many one-to-one meetings a day (in that zone) they take (0: no limit).
    timezone: Zone = DEFAULT_ZONE
    maxBookingsPerDay: BookingsPerDay = 0  # pyright: ignore[reportAssignmentType] (as Seats)
    # Contract v4: a reminder this many minutes before each of their meetings' starts, by
    # Discord and (unless disabled) by email (docs/reminders.md).
    reminderMinutes: ReminderMinutes = msgspec.field(  # pyright: ignore[reportAssignmentType]
        default_factory=lambda: list(DEFAULT_REMINDER_MINUTES)
    )
    disableReminderEmails: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "OwnUser":
        return cls(
            username=item["username"],
            discordUsername=item.get("discordUsername", ""),
            chesscomUsername=item.get("chesscomUsername", ""),
            lichessUsername=item.get("lichessUsername", ""),
            dojoCohort=item.get("dojoCohort", ""),
            disableBookingNotifications=item.get("disableBookingNotifications", False),
            disableCancellationNotifications=item.get("disableCancellationNotifications", False),
            subscriptionStatus=item.get("subscriptionStatus", SUBSCRIBED),
            isAdmin=item.get("isAdmin", False),
            timezone=item.get("timezone", DEFAULT_ZONE),
            maxBookingsPerDay=item.get("maxBookingsPerDay", 0),
            reminderMinutes=item.get("reminderMinutes", list(DEFAULT_REMINDER_MINUTES)),
            disableReminderEmails=item.get("disableReminderEmails", False),
        )

    def to_own_json(self) -> dict[str, Any]:
        """The profile with the player's settings, for the player alone."""
        return {
            **self.to_json(),
            "disableBookingNotifications": self.disableBookingNotifications,
            "disableCancellationNotifications": self.disableCancellationNotifications,
            "subscriptionStatus": self.subscriptionStatus,
            "isAdmin": self.isAdmin,
            "timezone": self.timezone,
            "maxBookingsPerDay": self.maxBookingsPerDay,
            "reminderMinutes": list(self.reminderMinutes),
            "disableReminderEmails": self.disableReminderEmails,
        }


class Access(Struct):
    """`GET /user/access`: the caller is a member (a free player gets a 403 instead)."""

    subscriptionStatus: Literal["SUBSCRIBED"]


class Membership(Struct):
    """What the users table keeps of a player's membership of the club (membership/): the
    status, whether the last check got no answer from the shop (pending: asked again at the next
    `GET /user/access`), when the shop was last asked (epoch seconds), and the email it is asked
    about. Only the status is ever returned (OwnUser)."""

    status: MembershipStatus = SUBSCRIBED
    pending: bool = False
    checked_at: int | None = None
    email: str = ""

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Membership":
        return cls(
            status=item.get("subscriptionStatus", SUBSCRIBED),
            pending=item.get("membershipPending", False),
            checked_at=item.get("membershipCheckedAt"),
            email=item.get("email", ""),
        )

    def to_item(self) -> dict[str, Any]:
        """The attributes it is stored as (the email is the user's own attribute)."""
        item: dict[str, Any] = {
            "subscriptionStatus": self.status,
            "membershipPending": self.pending,
        }
        if self.checked_at is not None:
            item["membershipCheckedAt"] = self.checked_at
        return item


class UserUpdate(Struct):
    """Body of `PUT /user`: the public fields a player may change. Absent fields are kept.

    `username` may be sent, but only as the caller's own (the handler checks): never a change,
    so read-only as published. `email` and `name` are not fields: only Cognito sets them."""

    username: Annotated[Text | None, READ_ONLY] = None
    discordUsername: Text | None = None
    chesscomUsername: Text | None = None
    lichessUsername: Text | None = None
    dojoCohort: Cohort | None = None
    disableBookingNotifications: bool | None = None
    disableCancellationNotifications: bool | None = None
    timezone: Zone | None = None
    maxBookingsPerDay: BookingsPerDay | None = None
    reminderMinutes: ReminderMinutes | None = None
    disableReminderEmails: bool | None = None

    @classmethod
    def from_json(cls, data: dict) -> "UserUpdate":
        update = _decode(cls, data)
        _check_zone(update.timezone, "timezone")
        minutes = update.reminderMinutes
        if minutes is not None and len(set(minutes)) < len(minutes):
            raise Invalid("reminderMinutes: Expected each value once")
        return update

    @property
    def changes(self) -> dict[str, Any]:
        """The fields sent, in the order above (the username is never a change)."""
        return {
            name: value
            for name in self.__struct_fields__
            if name != "username" and (value := getattr(self, name)) is not None
        }


class Participant(Struct):
    """A player who joined a group session."""

    username: str
    discord: str
    cohort: str

    def to_json(self) -> dict[str, str]:
        return {"username": self.username, "discord": self.discord, "cohort": self.cohort}


class Price(Struct):
    """What a coach charges for a one-to-one session, in minor units (cents)."""

    amount: Amount
    currency: Currency

    @classmethod
    def from_item(cls, item: dict | None) -> "Price | None":
        return cls(amount=item["amount"], currency=item["currency"]) if item else None

    def to_json(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}


class Recurrence(Struct):
    """A repeating availability (contract v4): an RFC 5545 RRULE (rules.recurrence checks
    its parts) in an IANA zone, the owner's own when the create names none."""

    rule: Annotated[str, Meta(min_length=1, max_length=200, pattern=RULE_PATTERN)]
    timezone: Zone | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "timezone": self.timezone}


# The one rule across an availability's fields that JSON Schema can state (startTime before
# endTime it cannot): local/openapi.py publishes it with the Availability schema.
PRICE_IS_ONE_TO_ONE = {
    "if": {"properties": {"price": {"type": "object"}}, "required": ["price"]},
    "then": {"properties": {"maxParticipants": {"const": 1}}},
}


class Availability(Struct, kw_only=True):
    """An offer to play, by its owner (the caller); startTime is before endTime, at most 7
    days before it, and a price is for a one-to-one availability only (maxParticipants 1)."""

    owner: Name
    ownerDiscord: Name
    ownerCohort: Cohort
    # None or "": a new availability, whose id the API issues (database.availabilities); an id:
    # the caller's own availability with that id, replaced (404 if there is none).
    id: Id | Literal[""] = ""
    startTime: Instant  # the window in which the owner is willing to *start* a game
    endTime: Instant
    types: Types
    cohorts: Cohorts
    location: Location = ""
    description: Description = ""
    # 2 or more: a group session. The default is a plain int (msgspec cannot encode a Seats).
    maxParticipants: Seats = 1  # pyright: ignore[reportAssignmentType]
    status: Annotated[Literal["SCHEDULED", "BOOKED", "CANCELED"], READ_ONLY] = SCHEDULED
    participants: Annotated[list[Participant], READ_ONLY] = []  # in joining order
    # Where membership is on: whether FREE_TIER players may book or join it (members always may).
    bookableByFreeUsers: bool = False
    # Contract v4: booking or joining less than this long before the start is refused.
    minNoticeMinutes: NoticeMinutes = 0  # pyright: ignore[reportAssignmentType] (as Seats)
    # A repeating availability: set on a create (no id); each occurrence keeps it, with the
    # series' id (set by the API). docs/recurrence.md.
    recurrence: Recurrence | None = None
    seriesId: Annotated[Id | None, READ_ONLY] = None
    # Payments on (dev, prod) and the owner's Stripe account takes charges; one-to-one only.
    # None is free.
    price: Price | None = None

    @classmethod
    def from_json(cls, data: dict) -> "Availability":
        """Body of `PUT /availability`."""
        if data.get("id") == "":  # as absent (msgspec does not try the Literal after a str)
            data = {name: value for name, value in data.items() if name != "id"}
        availability = _decode(cls, data)
        for name in ("types", "cohorts"):
            values = getattr(availability, name)
            if len(set(values)) < len(values):
                raise Invalid(f"{name}: Expected each value once")
        if availability.price is not None and availability.is_group:
            raise Invalid("price is only for one-to-one availabilities (maxParticipants 1)")
        # Last: the rules across fields the published schema does not state (test_schema.py).
        check_window(availability.startTime, availability.endTime)
        if availability.recurrence is not None:
            _check_zone(availability.recurrence.timezone, "recurrence.timezone")
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
            # Stored times are plain datetimes, which compare as Instants do (see Instant).
            startTime=parse_stored(item["startTime"]),  # pyright: ignore[reportArgumentType]
            endTime=parse_stored(item["endTime"]),  # pyright: ignore[reportArgumentType]
            types=item["types"],
            cohorts=item["cohorts"],
            location=item.get("location", ""),
            description=item.get("description", ""),
            maxParticipants=item.get("maxParticipants", 1),
            status=item.get("status", SCHEDULED),
            participants=[Participant(p["username"], p["discord"], p["cohort"]) for p in joined],
            price=Price.from_item(item.get("price")),
            bookableByFreeUsers=item.get("bookableByFreeUsers", False),
            minNoticeMinutes=item.get("minNoticeMinutes", 0),
            recurrence=item.get("recurrence") and Recurrence(**item["recurrence"]),
            seriesId=item.get("seriesId"),
        )

    def to_json(self) -> dict[str, Any]:
        published = {
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
            "bookableByFreeUsers": self.bookableByFreeUsers,
            "minNoticeMinutes": self.minNoticeMinutes,
        }
        if self.seriesId is not None and self.recurrence is not None:  # else as in version 3
            published["recurrence"] = self.recurrence.to_json()
            published["seriesId"] = self.seriesId
        return _priced(self.price, published)

    @property
    def is_group(self) -> bool:
        return self.maxParticipants > 1

    def has_joined(self, username: str) -> bool:
        return any(participant.username == username for participant in self.participants)


class BookingRequest(Struct):
    """Body of `PUT /availability/book`. `startTime` and `type` choose the game of a one-to-one
    availability (required there); a group session starts when it starts and offers its types."""

    owner: Name
    id: Id
    startTime: Instant | None = None
    type: AvailabilityType | None = None

    @classmethod
    def from_json(cls, data: dict) -> "BookingRequest":
        return _decode(cls, data)


class RescheduleRequest(Struct):
    """Body of `PUT /meeting/reschedule/{id}` (contract v4, "Rescheduling"): the slot of the same
    owner to move the meeting to, and the game's start and type there (`type` defaults to the
    meeting's). `owner`, optional, must be the meeting's owner: a client that sends it (it has
    it from search) saves a round trip, since the slot's key is (owner, id)."""

    id: Id
    startTime: Instant
    type: AvailabilityType | None = None
    owner: Name | None = None

    @classmethod
    def from_json(cls, data: dict) -> "RescheduleRequest":
        return _decode(cls, data)


class Refund(Struct):
    """The refund of a canceled priced meeting, made off the request path (contract v3)."""

    status: Literal["none", "pending", "succeeded", "failed"]
    amount: int


class Meeting(Struct):
    owner: str  # the availability's owner
    participant: str  # who booked it
    id: str  # the availability's id
    startTime: Instant
    type: AvailabilityType
    location: str = ""
    description: str = ""
    # AWAITING_PAYMENT: a priced slot held while the player pays on Stripe Checkout.
    status: Literal["SCHEDULED", "CANCELED", "AWAITING_PAYMENT"] = SCHEDULED
    price: Price | None = None  # what the participant pays (copied from the availability)
    # The Stripe Checkout page that pays for a held meeting: while AWAITING_PAYMENT only.
    checkoutUrl: str | None = None
    # A canceled priced meeting: the refund decided by the cancel, and how it went.
    refund: Refund | None = None
    # A rescheduled meeting (contract v4): the meeting it became, and the one it was moved from.
    rescheduledTo: str | None = None
    rescheduledFrom: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Meeting":
        status = item.get("status", SCHEDULED)  # version 1 meetings had no status
        return cls(
            owner=item["owner"],
            participant=item["participant"],
            id=item["id"],
            startTime=parse_stored(item["startTime"]),  # pyright: ignore[reportArgumentType]
            type=item["type"],
            location=item.get("location", ""),
            description=item.get("description", ""),
            status=status,
            price=Price.from_item(item.get("price")),
            checkoutUrl=item.get("checkoutUrl") if status == AWAITING_PAYMENT else None,
            refund=Refund(**item["refund"]) if "refund" in item else None,
            rescheduledTo=item.get("rescheduledTo"),
            rescheduledFrom=item.get("rescheduledFrom"),
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
        if self.refund is not None:
            published["refund"] = {"status": self.refund.status, "amount": self.refund.amount}
        for moved in ("rescheduledTo", "rescheduledFrom"):  # only when set: new fields only
            if getattr(self, moved) is not None:
                published[moved] = getattr(self, moved)
        return published

    def other_member(self, username: str) -> str:
        return self.participant if username == self.owner else self.owner


def _priced(price: Price | None, published: dict[str, Any]) -> dict[str, Any]:
    """A record's JSON with `price` only when it has one: a free slot looks as in version 2."""
    return published if price is None else {**published, "price": price.to_json()}


class Payment(Struct):
    """A priced meeting's Stripe side, stored with the meeting and never returned: the Checkout
    Session that holds the slot, and the PaymentIntent once paid (the money's whole story is
    the session's ledger record, database/payments.py)."""

    checkout_session: str
    payment_intent: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Payment | None":
        if "checkoutSessionId" not in item:
            return None
        return cls(
            checkout_session=item["checkoutSessionId"],
            payment_intent=item.get("paymentIntentId"),
        )


class PayoutAccount(Struct):
    """The caller's Stripe Connect account (`GET /payments/account`)."""

    connected: bool
    chargesEnabled: bool
    detailsSubmitted: bool


class Onboarding(PayoutAccount):
    """`POST /payments/account`: the account, and a one-time link to Stripe's onboarding."""

    onboardingUrl: str


class StripeAccount(Struct):
    """A coach's Stripe Connect (Express) account, as the users table keeps it: created once,
    kept current by Stripe's `account.updated` webhook. Its id is never published: `to_json`
    is a PayoutAccount."""

    account_id: str | None = None
    charges_enabled: bool = False
    details_submitted: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "StripeAccount":
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


# The responses' envelopes: the handlers build them as dicts (api.http.page); they are here to
# be published with the records they carry.


class MeetingWithOpponent(Struct):
    meeting: Meeting
    opponent: User


# What booking and cancelling answer. Not a Struct: msgspec only takes unions of Structs that
# carry a tag, and these answers do not; local/openapi.py publishes it as the `anyOf` of its
# members under its title.
MeetingOrSession = Annotated[
    Meeting | Availability,
    Meta(
        title="MeetingOrSession",
        description="What booking and cancelling answer: a one-to-one Meeting (with its "
        "Checkout URL when it is priced and held), or the group session (an Availability) "
        "joined, left or canceled.",
    ),
]


class AvailabilityPage(Struct):
    availabilities: list[Availability]
    lastEvaluatedKey: str | None = None  # omitted on the last page


class MeetingPage(Struct):
    meetings: list[Meeting]
    lastEvaluatedKey: str | None = None


class CalendarPage(Struct):
    # the caller's own, the group sessions they joined, and the others' they can book
    availabilities: list[Availability]
    meetings: list[Meeting]
    lastEvaluatedKey: str | None = None


class UserPage(Struct):
    users: list[OwnUser]  # GET /admin/user: every profile, with its settings and isAdmin
    lastEvaluatedKey: str | None = None


class CalendarFeedAddress(Struct):
    """`POST /user/calendar-feed`: the caller's new secret feed address (database/feed.py)."""

    url: str


class SeriesDeleted(Struct):
    """`DELETE /availability/series/{seriesId}`: how many open occurrences were deleted."""

    deleted: int


class AvailabilityStatistics(Struct):
    """Counted since the stage was deployed; the maps by cohort or type (docs/statistics.md)."""

    created: int
    deleted: int
    booked: int
    ownerCohorts: dict[str, int]
    deleterCohorts: dict[str, int]
    bookableCohorts: dict[str, int]
    groupCohorts: dict[str, int]
    types: dict[str, int]


class MeetingStatistics(Struct):
    created: int
    canceled: int
    ownerCohorts: dict[str, int]
    participantCohorts: dict[str, int]
    cancelerCohorts: dict[str, int]
    groupCohorts: dict[str, int]
    types: dict[str, int]
    rescheduled: int = 0  # meetings moved (contract v4): each once, neither created nor canceled


class Statistics(Struct):
    availabilityStatistics: AvailabilityStatistics
    meetingStatistics: MeetingStatistics


class ErrorBody(Struct):
    code: int
    message: str
