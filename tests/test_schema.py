"""database/schema.py (pydantic, the published description) and database/models.py (what the
functions run) must describe one contract: on generated request bodies, valid and invalid,
both accept the same ones and produce the same JSON."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from database import models, schema
from support import availability

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
    st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat()),
    st.sampled_from(["2030-01-01T09:00:00", "2030-02-30T09:00:00Z", "2030-01-01T09:00Z", "x"]),
)
cohort = (st.sampled_from(models.COHORTS), st.sampled_from(["3000+", "", "ALL_COHORTS"]))
cohort_list = (
    st.lists(st.sampled_from([*models.COHORTS, models.ALL_COHORTS]), min_size=1, max_size=3),
    st.one_of(st.just([]), st.lists(st.sampled_from(["3000+", ""]), min_size=1, max_size=2)),
)
kind = (st.sampled_from(models.AVAILABILITY_TYPES), st.sampled_from(["BLITZ", ""]))
kind_list = (
    st.lists(kind[0], min_size=1, max_size=3),
    st.one_of(st.just([]), st.lists(kind[1], min_size=1, max_size=2)),
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
    id=(st.one_of(st.just(ABSENT), st.just(""), text[0]), text[1]),
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
                    "amount": st.integers(models.MIN_PRICE, models.MAX_PRICE),
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
    id=text,
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


def both(data, parse, model):
    """(runtime result or None, pydantic result or None) for the same JSON body."""
    text = json.dumps(data)
    try:
        ours = parse(json.loads(text))
    except models.Invalid:
        ours = None
    try:
        theirs = model.model_validate_json(text)
    except ValidationError:
        theirs = None
    return ours, theirs


@settings(max_examples=400, deadline=None)
@given(availabilities)
def test_availability_rules_agree(data):
    ours, theirs = both(data, models.Availability.from_json, schema.Availability)

    assert (ours is None) == (theirs is None), (ours, theirs)
    if ours is not None:
        expected = theirs.model_dump(mode="json")
        if not data.get("id"):  # each made up a new UUID
            expected["id"] = ours.id
        assert ours.to_json() == expected


@settings(max_examples=300, deadline=None)
@given(bookings)
def test_booking_rules_agree(data):
    ours, theirs = both(data, models.BookingRequest.from_json, schema.BookingRequest)

    assert (ours is None) == (theirs is None), (ours, theirs)
    if ours is not None:
        assert (ours.owner, ours.id, ours.startTime, ours.type) == (
            theirs.owner,
            theirs.id,
            theirs.startTime,
            theirs.type,
        )


@settings(max_examples=300, deadline=None)
@given(user_updates)
def test_user_update_rules_agree(data):
    ours, theirs = both(data, models.UserUpdate.from_json, schema.UserUpdate)

    assert (ours is None) == (theirs is None), (ours, theirs)
    if ours is not None:
        assert ours.username == theirs.username
        assert ours.changes == theirs.model_dump(exclude_none=True, exclude={"username"})


@pytest.mark.parametrize(
    ("record", "model"),
    [
        (models.User(username="alice"), schema.User),
        (
            models.Meeting("alice", "bob", "m1", datetime(2030, 1, 1, tzinfo=UTC), "BOOK_STUDY"),
            schema.Meeting,
        ),
        (
            models.Meeting(
                "alice",
                "bob",
                "m1",
                datetime(2030, 1, 1, tzinfo=UTC),
                "BOOK_STUDY",
                status=models.AWAITING_PAYMENT,
                price=models.Price(5000, "usd"),
                checkoutUrl="https://checkout.stripe.com/c/pay/cs_test_1",
            ),
            schema.Meeting,
        ),
        (models.PayoutAccount("acct_1", True, False), schema.PayoutAccount),
    ],
)
def test_responses_have_the_schemas_fields(record, model):
    assert model.model_validate(record.to_json()).model_dump(mode="json") == record.to_json()
    # `price` and `checkoutUrl` are omitted when they have no value (as the schema dumps them)
    optional = ("price", "checkoutUrl")
    assert list(record.to_json()) == [
        name for name in model.model_fields if name in record.to_json() or name not in optional
    ]


def test_availability_response_has_the_schemas_fields():
    session = models.Availability.from_json(availability(maxParticipants=2, location="Zoom"))
    session.participants = [models.Participant("bob", "bob#1", "1500-1600")]
    session.status = models.BOOKED
    published = session.to_json()

    assert list(published) == [n for n in schema.Availability.model_fields if n != "price"]
    [participant] = published["participants"]
    assert schema.Participant.model_validate(participant).model_dump() == participant
    assert list(participant) == list(schema.Participant.model_fields)
    # status and participants are the API's: a body cannot set them
    parsed = schema.Availability.model_validate(published).model_dump(mode="json")
    assert parsed == {**published, "status": "SCHEDULED", "participants": []}


def test_own_profile_has_the_schemas_fields():
    user = models.User(username="alice", disableBookingNotifications=True)

    assert schema.OwnUser.model_validate(user.to_own_json()).model_dump() == user.to_own_json()
    assert list(user.to_own_json()) == list(schema.OwnUser.model_fields)
