"""The contract is written once, as msgspec Structs (database/models.py): the functions
validate request bodies with them and the OpenAPI document (local/openapi.py) publishes their
JSON Schema. These tests hold the two uses together: on generated bodies, valid and invalid,
the published schema (checked by a JSON Schema validator, schemathesis' own) accepts exactly
what the functions accept, and what the functions answer fits the published schema."""

import json
from datetime import UTC, datetime

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from database import models
from local.openapi import document
from rules import booking, cohorts
from support import SERVICE, availability, hypothesis_examples

SCHEMAS = document(SERVICE, "http://localhost")["components"]["schemas"]
# A rule across fields that JSON Schema cannot state: the functions check it once every field
# is valid (the schema's description says it).
ACROSS_FIELDS = (booking.NOT_BEFORE_END, booking.WINDOW_TOO_LONG)


def published(name: str) -> jsonschema_rs.Validator:
    """The validator of the published component `name` (its $refs resolved in the document)."""
    return jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}},
        validate_formats=True,  # date-time: RFC 3339, as database.times reads it
    )


CHARACTERS = st.characters(blacklist_categories=("Cs",))  # JSON cannot carry lone surrogates
ABSENT = object()

# Per field: (good values, bad values); absent, null and wrong types are bad for every field.
junk = st.one_of(
    st.just(ABSENT), st.none(), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)
)
text = (
    st.text(CHARACTERS, min_size=1, max_size=100),
    st.one_of(st.just(""), st.text(CHARACTERS, min_size=101, max_size=105)),
)
time = (
    # up to the year 9998: a later time has no expiry (models.LAST_YEAR)
    st.datetimes(max_value=datetime(9998, 12, 31), timezones=st.just(UTC)).map(
        lambda t: t.isoformat()
    ),
    st.sampled_from(
        [
            "2030-01-01T09:00:00",
            "2030-02-30T09:00:00Z",
            "2030-01-01T09:00Z",
            "x",
            "9999-12-31T23:00:00Z",
            "9999-01-01T00:00:00+01:00",
        ]
    ),
)
cohort = (st.sampled_from(cohorts.COHORTS), st.sampled_from(["3000+", "", "ALL_COHORTS"]))
cohort_list = (
    st.lists(
        st.sampled_from([*cohorts.COHORTS, cohorts.ALL_COHORTS]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    st.one_of(
        st.just([]),
        st.lists(st.sampled_from(["3000+", ""]), min_size=1, max_size=2),
        st.sampled_from(cohorts.COHORTS).map(lambda c: [c, "0-400", c]),  # each at most once
    ),
)
kind = (st.sampled_from(models.AVAILABILITY_TYPES), st.sampled_from(["BLITZ", ""]))
kind_list = (
    st.lists(kind[0], min_size=1, max_size=3, unique=True),
    st.one_of(
        st.just([]),
        st.lists(kind[1], min_size=1, max_size=2),
        kind[0].map(lambda k: [k, k]),
    ),
)
# Ids the API issued (canonical UUIDs), and what no id is: other text, an upper-case or
# braced UUID, one with a trailing newline.
an_id = (
    st.uuids().map(str),
    st.one_of(
        text[0],
        st.uuids().map(lambda u: str(u).upper()),
        st.uuids().map(lambda u: f"{{{u}}}"),
        st.uuids().map(lambda u: f"{u}\n"),
    ),
)


@st.composite
def body(draw, **fields):
    """A body whose fields are good, except for up to two drawn from their bad values."""
    broken = draw(st.sets(st.sampled_from(sorted(fields)), max_size=2))
    data = {}
    for name, (good, bad) in fields.items():
        value = draw(st.one_of(bad, junk) if name in broken else good)
        if value is not ABSENT:
            data[name] = value
    return data


availabilities = body(
    owner=text,
    ownerDiscord=text,
    ownerCohort=cohort,
    id=(st.one_of(st.just(ABSENT), st.just(""), an_id[0]), an_id[1]),
    startTime=time,
    endTime=time,
    types=kind_list,
    cohorts=cohort_list,
    # version 2: optional, bounded; status and participants are the API's, ignored in a body
    location=(
        st.one_of(st.just(ABSENT), st.text(CHARACTERS, max_size=200)),
        st.text(CHARACTERS, min_size=201, max_size=205),
    ),
    description=(
        st.one_of(st.just(ABSENT), st.text(CHARACTERS, max_size=1000)),
        st.text(CHARACTERS, min_size=1001, max_size=1003),
    ),
    maxParticipants=(
        # 2.0 is the integer 2 in JSON Schema, so in the published schema: accepted as 2
        st.one_of(st.just(ABSENT), st.integers(1, 100), st.integers(1, 100).map(float)),
        st.one_of(st.sampled_from([0, 101, 1.5, 2.5, "2"]), st.integers(max_value=0)),
    ),
    status=(st.one_of(st.just(ABSENT), st.just("BOOKED")), st.just("NONSENSE")),
    participants=(st.just(ABSENT), st.just([{"username": "mallory"}])),
    # payments: a price in minor units, in a currency Stripe charges from 50 minor units; only
    # one-to-one (a drawn maxParticipants above 1 with a price must be refused by both)
    price=(
        st.one_of(
            st.just(ABSENT),
            st.fixed_dictionaries(
                {
                    # 5000.0 is 5000, as JSON Schema's "integer" reads it
                    "amount": st.one_of(
                        st.integers(models.MIN_PRICE, models.MAX_PRICE),
                        st.integers(models.MIN_PRICE, models.MAX_PRICE).map(float),
                    ),
                    "currency": st.sampled_from(models.CURRENCIES),
                }
            ),
        ),
        st.one_of(
            st.fixed_dictionaries(
                {
                    "amount": st.one_of(
                        st.integers(max_value=models.MIN_PRICE - 1),
                        st.integers(min_value=models.MAX_PRICE + 1),
                        st.sampled_from([100.5, "100", True, None]),
                    ),
                    "currency": st.sampled_from(models.CURRENCIES),
                }
            ),
            st.fixed_dictionaries(
                {"amount": st.just(100), "currency": st.sampled_from(["USD", "jpy", "", None])}
            ),
            st.just({"currency": "usd"}),
            st.just("100 usd"),
        ),
    ),
)
optional = st.just(ABSENT)
bookings = body(
    owner=text,
    id=an_id,
    startTime=(st.one_of(optional, time[0]), time[1]),
    type=(st.one_of(optional, kind[0]), kind[1]),
)
user_updates = body(
    username=(st.one_of(st.just(ABSENT), text[0]), text[1]),
    discordUsername=(st.one_of(st.just(ABSENT), st.just(""), text[0]), text[1]),
    chesscomUsername=(st.one_of(st.just(ABSENT), text[0]), text[1]),
    lichessUsername=(st.one_of(st.just(ABSENT), text[0]), text[1]),
    dojoCohort=(st.one_of(st.just(ABSENT), cohort[0]), cohort[1]),
    disableBookingNotifications=(st.one_of(optional, st.booleans()), st.sampled_from([0, "true"])),
    disableCancellationNotifications=(st.one_of(optional, st.booleans()), st.just(1)),
)


def sent(answer: dict) -> dict:
    """An answer as the client reads it (api.http sends it with json.dumps)."""
    return json.loads(json.dumps(answer))


def agree(data: dict, parse, name: str):
    """The functions' result (None when they refuse the body) after checking that the published
    schema accepts the same body. The API reads null as absent and ignores the fields only it
    sets (readOnly): the schema is asked about the body as the API reads it."""
    read = {
        key: value
        for key, value in data.items()
        if value is not None and key not in models.SET_BY_THE_API
    }
    schema_accepts = published(name).is_valid(read)
    try:
        ours = parse(json.loads(json.dumps(data)))
    except models.Invalid as error:
        if error.message in ACROSS_FIELDS:
            assert schema_accepts, data  # every field was valid
        else:
            assert not schema_accepts, (data, error.message)
        return None
    assert schema_accepts, data
    return ours


@settings(max_examples=hypothesis_examples(400), deadline=None)
@given(availabilities)
def test_the_published_availability_accepts_what_the_function_accepts(data):
    ours = agree(data, models.Availability.from_json, "Availability")

    if ours is not None:
        published("Availability").validate(sent(ours.to_json()))
        assert ours.id == (data.get("id") or "")  # none or empty: a new one (the API issues it)
        assert ours.status == models.SCHEDULED and ours.participants == []


@settings(max_examples=hypothesis_examples(300), deadline=None)
@given(bookings)
def test_the_published_booking_accepts_what_the_function_accepts(data):
    ours = agree(data, models.BookingRequest.from_json, "BookingRequest")

    if ours is not None:
        assert (ours.owner, ours.id, ours.type) == (data["owner"], data["id"], data.get("type"))


@settings(max_examples=hypothesis_examples(300), deadline=None)
@given(user_updates)
def test_the_published_profile_update_accepts_what_the_function_accepts(data):
    ours = agree(data, models.UserUpdate.from_json, "UserUpdate")

    if ours is not None:
        assert ours.username == data.get("username")
        assert ours.changes == {
            name: value for name, value in data.items() if name != "username" and value is not None
        }


def test_fields_set_by_the_api_are_published_read_only():
    read_only = {
        name
        for name, field in SCHEMAS["Availability"]["properties"].items()
        if field.get("readOnly")
    }

    assert read_only == set(models.SET_BY_THE_API)
    assert SCHEMAS["UserUpdate"]["properties"]["username"]["readOnly"] is True


PRICE = models.Price(5000, "usd")
AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("record", "name", "to_json"),
    [
        (models.User(username="alice"), "User", models.User.to_json),
        (models.OwnUser(username="alice"), "User", models.OwnUser.to_json),
        (
            models.OwnUser(username="alice", disableBookingNotifications=True),
            "OwnUser",
            models.OwnUser.to_own_json,
        ),
        (models.Meeting("alice", "bob", "m1", AT, "BOOK_STUDY"), "Meeting", models.Meeting.to_json),
        (
            models.Meeting(
                "alice",
                "bob",
                "m1",
                AT,
                "BOOK_STUDY",
                status=models.AWAITING_PAYMENT,
                price=PRICE,
                checkoutUrl="https://checkout.stripe.com/c/pay/cs_test_1",
            ),
            "Meeting",
            models.Meeting.to_json,
        ),
        (
            models.StripeAccount("acct_1", True, False),
            "PayoutAccount",
            models.StripeAccount.to_json,
        ),
    ],
)
def test_responses_are_the_published_records(record, name, to_json):
    answer = to_json(record)

    published(name).validate(sent(answer))
    # In the Struct's order; `price`, `checkoutUrl`, `refund` and a reschedule's links only when
    # they have a value.
    fields = SCHEMAS[name]["properties"]
    optional = ("price", "checkoutUrl", "refund", "rescheduledTo", "rescheduledFrom")
    assert list(answer) == [n for n in fields if n in answer or n not in optional]


def test_an_availability_answer_is_the_published_availability():
    session = models.Availability.from_json(availability(maxParticipants=2, location="Zoom"))
    session.participants = [models.Participant("bob", "bob#1", "1500-1600")]
    session.status = models.BOOKED
    answer = session.to_json()

    published("Availability").validate(sent(answer))
    # price, and a series' recurrence and seriesId (contract v4), only where there is one
    only_some = ("price", "recurrence", "seriesId")
    assert list(answer) == [n for n in SCHEMAS["Availability"]["properties"] if n not in only_some]
    [participant] = answer["participants"]
    assert list(participant) == list(SCHEMAS["Participant"]["properties"])
    # status and participants are the API's: a body cannot set them
    parsed = models.Availability.from_json(answer).to_json()
    assert parsed == {**answer, "status": "SCHEDULED", "participants": []}


def test_a_priced_availability_answer_is_the_published_availability():
    priced = models.Availability.from_json(availability(price={"amount": 5000, "currency": "eur"}))

    published("Availability").validate(sent(priced.to_json()))
    series_only = ("recurrence", "seriesId")  # contract v4: an occurrence of a series only
    properties = [n for n in SCHEMAS["Availability"]["properties"] if n not in series_only]
    assert list(priced.to_json()) == properties
