"""The contract's models in pydantic: the published description of the API.

The OpenAPI document (`make run` serves it) is generated from these. No function imports this
module: at run time the same rules are plain code in database/models.py, which starts
~110 ms faster; tests/test_schema.py checks on generated inputs that both accept, reject and
produce exactly the same things. Python field names are the JSON names, exactly.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import uuid4

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, model_validator

from database.models import ALL_COHORTS, AVAILABILITY_TYPES, COHORTS, MAX_TEXT
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


class UserUpdate(BaseModel):
    """Body of `PUT /user`: the public fields a player may change. Absent fields are kept."""

    # Accepted only when it is the caller's own, so never a change: read-only, as published.
    username: Text | None = Field(default=None, json_schema_extra={"readOnly": True})
    discordUsername: Text | None = None
    chesscomUsername: Text | None = None
    lichessUsername: Text | None = None
    dojoCohort: Cohort | None = None


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

    @model_validator(mode="after")
    def _starts_before_it_ends(self) -> "Availability":
        if self.startTime >= self.endTime:
            raise ValueError("startTime must be before endTime")
        return self


class BookingRequest(BaseModel):
    """Body of `PUT /availability/book`."""

    owner: Name
    id: Name
    startTime: Time
    type: AvailabilityType


class Meeting(BaseModel):
    owner: str  # the availability's owner
    participant: str  # who booked it
    id: str  # the availability's id
    startTime: Time
    type: AvailabilityType


class MeetingWithOpponent(BaseModel):
    meeting: Meeting
    opponent: User


class AvailabilityPage(BaseModel):
    availabilities: list[Availability]
    lastEvaluatedKey: str | None = None  # omitted on the last page


class MeetingPage(BaseModel):
    meetings: list[Meeting]
    lastEvaluatedKey: str | None = None


class ErrorBody(BaseModel):
    code: int
    message: str
