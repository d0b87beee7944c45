"""The contract's models. Python field names are the JSON names, exactly.

Stored-only attributes (`email`, `name`, `status`, `expirationTime`) are not fields of the
models a response is built from, so they cannot reach a client.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import uuid4

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from database.times import format_time, to_instant

Cohort = Literal[
    "0-400", "400-600", "600-700",
    "700-800", "800-900", "900-1000", "1000-1100", "1100-1200", "1200-1300", "1300-1400",
    "1400-1500", "1500-1600", "1600-1700", "1700-1800", "1800-1900", "1900-2000", "2000-2100",
    "2100-2200", "2200-2300", "2300-2400",
    "2400+",
]  # fmt: skip
ALL_COHORTS = "ALL_COHORTS"

AvailabilityType = Literal[
    "CLASSICAL_GAME",
    "OPENING_SPARRING",
    "MIDDLEGAME_SPARRING",
    "ENDGAME_SPARRING",
    "ROOK_ENDGAME_PROGRESSION",
    "CLASSIC_ANALYSIS",
    "BOOK_STUDY",
]

# An RFC 3339 instant in, the fixed-width UTC form out (see database.times).
Time = Annotated[
    datetime, BeforeValidator(to_instant), PlainSerializer(format_time, return_type=str)
]
# Free text from a client, bounded so one request cannot bloat an item.
Text = Annotated[str, Field(max_length=100)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class Model(BaseModel):
    # Each model's validator is built on first use, not at import: a function pays only for the
    # models it touches, after its cold start has begun serving.
    model_config = ConfigDict(defer_build=True)


def _new_id(value: object) -> object:
    # The original set a fresh UUID v4 when the client sent none (or an empty one).
    return value or str(uuid4())


class User(Model):
    """A player's public profile."""

    username: Name
    discordUsername: Text = ""
    chesscomUsername: Text = ""
    lichessUsername: Text = ""
    dojoCohort: Cohort | Literal[""] = ""  # empty until the player picks one


class UserUpdate(Model):
    """Body of `PUT /user`: the public fields a player may change. Absent fields are kept."""

    username: Text | None = None  # accepted only when it is the caller's own
    discordUsername: Text | None = None
    chesscomUsername: Text | None = None
    lichessUsername: Text | None = None
    dojoCohort: Cohort | None = None

    def changes(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True, exclude={"username"})


class NewUser(Model):
    """What the sign-up trigger stores; `email` and `name` are never returned."""

    username: Name
    email: str = ""
    name: str = ""


class Availability(Model):
    owner: Name
    ownerDiscord: Name
    ownerCohort: Cohort
    id: Annotated[Text, BeforeValidator(_new_id)] = Field(default="", validate_default=True)
    startTime: Time  # the window in which the owner is willing to *start* a game
    endTime: Time
    types: list[AvailabilityType] = Field(min_length=1)
    cohorts: list[Cohort | Literal["ALL_COHORTS"]] = Field(min_length=1)

    @model_validator(mode="after")
    def _starts_before_it_ends(self) -> "Availability":
        if self.startTime >= self.endTime:
            raise ValueError("startTime must be before endTime")
        return self

    def admits(self, cohort: str) -> bool:
        return ALL_COHORTS in self.cohorts or cohort in self.cohorts


class BookingRequest(Model):
    """Body of `PUT /availability/book`."""

    owner: Name
    id: Name
    startTime: Time
    type: AvailabilityType


class Meeting(Model):
    owner: str  # the availability's owner
    participant: str  # who booked it
    id: str  # the availability's id
    startTime: Time
    type: AvailabilityType


class MeetingWithOpponent(Model):
    meeting: Meeting
    opponent: User


class AvailabilityPage(Model):
    availabilities: list[Availability]
    lastEvaluatedKey: str | None = None  # omitted on the last page


class MeetingPage(Model):
    meetings: list[Meeting]
    lastEvaluatedKey: str | None = None


class ErrorBody(Model):
    code: int
    message: str
