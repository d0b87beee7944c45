"""The payments table: the ledger of every Checkout Session this stage created, and each
player's unpaid holds (docs/payments.md, "The ledger").

Two kinds of items, keyed by `id`:

- `<Checkout Session id>` (`cs_...`): one **ledger record** per session, written in the same
  transaction that holds the slot, with its `status`:

      HELD ──paid──▶ CONFIRMED ──cancel, refund owed──▶ REFUND_PENDING ──▶ REFUNDED
        │                      └─cancel, none owed───▶ KEPT              ├─▶ REFUND_SUBMITTED
        └─expired, canceled, reconciled─▶ RELEASED ──paid anyway──▶ …    └─▶ REFUND_FAILED

  A refund moves as Stripe reports it (the create's answer, a retrieve, its events), only
  forward: pending (REFUND_SUBMITTED) → succeeded (REFUNDED) → failed (REFUND_FAILED; Stripe
  may fail a refund it reported succeeded), never back, so an old event changes nothing.

  Every transition is conditional on the status it leaves, so an event delivered again, late
  or out of order finds the record settled and changes nothing; a payment is refunded only
  from RELEASED (this stage held no slot for it) or from CONFIRMED by a cancel, and the
  record leaves REFUND_PENDING once. A record has no TTL while it may still move (HELD,
  REFUND_PENDING, REFUND_FAILED); a settled one expires long after Stripe stops re-sending
  events (RETENTION after the meeting's start). A session with no record was not created
  here (another stage or deployment): its events are ignored.
  `open` (HOLD or REFUND) and `dueAt` put a record in the sparse `OpenIndex` while the
  reconciliation may have to act on it: a hold past its expiry, a hold a cancel RELEASED
  until Stripe confirms its session expired (its expire is best effort), a refund not yet
  made or still pending at Stripe.
- `holds#<username>`: the set of Checkout Sessions holding a slot for that player unpaid
  (`sessions`), at most the stage's limit: added in the hold's transaction, removed in the
  transaction that confirms or releases it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

from botocore.exceptions import ClientError

from database import feed_version, sequence, settings
from database.client import (
    MEETINGS_TABLE,
    conditional,
    dynamodb,
    error_code,
    from_item,
    query_items,
    to_item,
    translate_errors,
)
from database.errors import Conflict
from database.meetings import Booking, cancel_writes, get_booking
from database.models import AWAITING_PAYMENT, SCHEDULED, Meeting
from database.times import format_time
from rules.booking import reopens
from rules.refunds import (
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUBMITTED,
    REFUNDED,
    refund_move,
)


def payments_table() -> str:
    # At first use: a free booking (its function imports this module) needs no payments table.
    return settings.table("PAYMENTS_TABLE")


HELD = "HELD"
CONFIRMED = "CONFIRMED"
RELEASED = "RELEASED"
KEPT = "KEPT"  # paid, then canceled when no refund was owed
SETTLED = (CONFIRMED, KEPT, REFUNDED)  # states that may take a TTL (CONFIRMED: the start's)

# What the reconciliation looks for in OpenIndex.
OPEN_HOLD = "HOLD"
OPEN_REFUND = "REFUND"

# A settled record outlives Stripe's retries (3 days) and its Dashboard re-sends (events are
# kept 30 days) by far: a late event finds it and changes nothing.
RETENTION = timedelta(days=90)
# The stream function makes a refund at once; one still pending this long is retried by the
# reconciliation (the stream's own retries having given up).
REFUND_RETRY_AFTER = timedelta(minutes=15)
# A refund Stripe reports pending is looked up again this often (its events come first).
REFUND_CHECK_EVERY = timedelta(minutes=15)

TOO_MANY_HOLDS = (
    "You have unpaid bookings waiting: finish or cancel a pending payment before booking "
    "another paid session"
)

# The refund states a meeting shows (contract v3, "Payments, version 3").
REFUND_NONE, REFUND_SHOWN_PENDING, REFUND_SUCCEEDED, REFUND_SHOWN_FAILED = (
    "none",
    "pending",
    "succeeded",
    "failed",
)


def holds_key(username: str) -> str:
    return f"holds#{username}"


@dataclass
class Record:
    """One Checkout Session's ledger record."""

    session: str
    meeting_id: str
    participant: str
    amount: int
    currency: str
    status: str
    start: str  # the meeting's startTime (stored form)
    due: str | None = None
    payment_intent: str | None = None
    refund_amount: int | None = None
    refund_reason: str | None = None
    refund_id: str | None = None
    refund_attempts: int = 0
    application_fee: int = 0  # the club's fee the session took (a refund returns it)
    open: str | None = None  # OPEN_HOLD or OPEN_REFUND while the reconciliation acts on it

    @classmethod
    def from_item(cls, item: dict) -> "Record":
        return cls(
            session=item["id"],
            meeting_id=item["meetingId"],
            participant=item["participant"],
            amount=item["amount"],
            currency=item["currency"],
            status=item["status"],
            start=item["startTime"],
            due=item.get("dueAt"),
            payment_intent=item.get("paymentIntentId"),
            refund_amount=item.get("refundAmount"),
            refund_reason=item.get("refundReason"),
            refund_id=item.get("refundId"),
            refund_attempts=item.get("refundAttempts", 0),
            application_fee=item.get("applicationFee", 0),
            open=item.get("open"),
        )


def hold_writes(
    meeting: Meeting, session: str, due: datetime, limit: int, application_fee: int
) -> list[tuple]:
    """The hold's own writes, for the booking's transaction (database.availabilities.book):
    the session's ledger record (with the club's fee, which a refund must know), and the
    player's unpaid holds (at most `limit`), each with the error its failed condition means."""
    assert meeting.price is not None  # a hold is for a priced meeting
    record = {
        "id": session,
        "meetingId": meeting.id,
        "owner": meeting.owner,
        "participant": meeting.participant,
        "amount": meeting.price.amount,
        "currency": meeting.price.currency,
        "applicationFee": application_fee,
        "startTime": format_time(meeting.startTime),
        "status": HELD,
        "open": OPEN_HOLD,
        "dueAt": format_time(due),
    }
    put = {
        "Put": {
            "TableName": payments_table(),
            "Item": to_item(record),
            "ConditionExpression": "attribute_not_exists(id)",
        }
    }
    holds = {
        "Update": {
            "TableName": payments_table(),
            "Key": to_item({"id": holds_key(meeting.participant)}),
            "UpdateExpression": "ADD sessions :session",
            "ConditionExpression": "attribute_not_exists(sessions) OR size(sessions) < :limit",
            "ExpressionAttributeValues": {
                ":session": {"SS": [session]},
                ":limit": {"N": str(limit)},
            },
        }
    }
    return [
        (put, Conflict("This checkout is already recorded")),
        (holds, Conflict(TOO_MANY_HOLDS)),
    ]


@translate_errors
def get_record(session: str) -> Record | None:
    item = (
        dynamodb()
        .get_item(TableName=payments_table(), Key=to_item({"id": session}), ConsistentRead=True)
        .get("Item")
    )
    return Record.from_item(from_item(item)) if item else None


def _transition(
    record: Record, to: str, sets: dict | None = None, *, reconcile: bool = False
) -> dict:
    """The ledger record moving from its current status to `to` (conditional on it), setting
    `sets` (attribute name -> value). Out of OpenIndex once nothing is left to reconcile
    (unless `reconcile`); a TTL once it can no longer move, long after the meeting's start.
    A record that names a refund moves only for that refund."""
    sets = dict(sets or {})
    sets["status"] = to
    keep_open = reconcile or to in (HELD, REFUND_PENDING, REFUND_SUBMITTED)
    removes = [] if keep_open else ["open", "dueAt"]
    if to in SETTLED or to == RELEASED:
        start = _parse(record.start)
        kept_until = max(start, datetime.now(start.tzinfo)) + RETENTION
        sets["expirationTime"] = int(kept_until.timestamp())
    else:  # it may move again: never removed before it settles
        removes.append("expirationTime")
    names = {f"#a{i}": name for i, name in enumerate([*sets, *removes])}
    by_name = {name: alias for alias, name in names.items()}
    expression = "SET " + ", ".join(f"{by_name[name]} = :v{i}" for i, name in enumerate(sets))
    if removes:
        expression += " REMOVE " + ", ".join(by_name[name] for name in removes)
    values = {f":v{i}": value for i, value in enumerate(sets.values())}
    values[":from"] = record.status
    condition = f"{by_name['status']} = :from"
    if record.refund_id:
        names["#refundId"] = "refundId"
        values[":refundId"] = record.refund_id
        condition += " AND #refundId = :refundId"
    return {
        "Update": {
            "TableName": payments_table(),
            "Key": to_item({"id": record.session}),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }
    }


def _parse(stored_time: str) -> datetime:
    return datetime.fromisoformat(stored_time)


def _holds_release(record: Record) -> dict:
    """The session leaves the player's unpaid holds (a no-op if it already left)."""
    return {
        "Update": {
            "TableName": payments_table(),
            "Key": to_item({"id": holds_key(record.participant)}),
            "UpdateExpression": "DELETE sessions :session",
            "ExpressionAttributeValues": {":session": {"SS": [record.session]}},
        }
    }


def _holding(booking: Booking | None, session: str) -> TypeGuard[Booking]:
    return (
        booking is not None
        and booking.meeting.status == AWAITING_PAYMENT
        and booking.payment is not None
        and booking.payment.checkout_session == session
    )


def _refund_decision(record: Record, reason: str, at: datetime, **sets) -> dict:
    """A full refund owed: made off the request path (the stream function, then the
    reconciliation while it is still pending)."""
    return _transition(
        record,
        REFUND_PENDING,
        {
            "refundAmount": record.amount,
            "refundReason": reason,
            "open": OPEN_REFUND,
            "dueAt": format_time(at + REFUND_RETRY_AFTER),
            **sets,
        },
    )


# What an event (or the reconciliation) did to a ledger record.
NOT_OURS = "not ours"  # no record: a session this stage did not create
UNCHANGED = "unchanged"  # settled already (a redelivery, or a late or out-of-order event)


@translate_errors
def settle_paid(session: str, payment_intent: str, at: datetime) -> str:
    """A paid Checkout Session: its hold becomes the SCHEDULED meeting (CONFIRMED); a session
    whose hold was released first is to be refunded (REFUND_PENDING); any other state is
    final and nothing changes. Returns the record's new status, UNCHANGED or NOT_OURS."""
    for _ in range(3):
        record = get_record(session)
        if record is None:
            return NOT_OURS
        intent = {"paymentIntentId": payment_intent}
        if record.status == RELEASED:
            reason = "paid after the hold was released"
            writes = [_refund_decision(record, reason, at, **intent)]
            outcome = REFUND_PENDING
        elif record.status == HELD:
            booking = get_booking(record.meeting_id)
            if _holding(booking, session):
                meeting = booking.meeting
                writes = [
                    _transition(record, CONFIRMED, intent),
                    _confirm_meeting(record, payment_intent),
                    _holds_release(record),
                    # TENTATIVE becomes CONFIRMED in both members' calendar feeds
                    *feed_version.raises((meeting.owner, meeting.participant), at),
                ]
                outcome = CONFIRMED
            else:  # no slot held for it (cannot happen while writes pair up; kept safe)
                reason = "paid for no held slot"
                writes = [_refund_decision(record, reason, at, **intent), _holds_release(record)]
                outcome = REFUND_PENDING
        else:
            return UNCHANGED
        if _commit(writes):
            return outcome
    raise Conflict("The payment changed while it was recorded: please retry")


def _confirm_meeting(record: Record, payment_intent: str) -> dict:
    # TENTATIVE -> CONFIRMED: a change calendar apps must take (SEQUENCE raised)
    return {
        "Update": sequence.raised(
            {
                "TableName": MEETINGS_TABLE,
                "Key": to_item({"id": record.meeting_id}),
                "UpdateExpression": "SET #status = :scheduled, paymentIntentId = :intent "
                "REMOVE checkoutUrl",
                "ConditionExpression": "#status = :awaiting AND checkoutSessionId = :session",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_item(
                    {
                        ":scheduled": SCHEDULED,
                        ":awaiting": AWAITING_PAYMENT,
                        ":session": record.session,
                        ":intent": payment_intent,
                    }
                ),
            }
        )
    }


# A hold a cancel released, which Stripe now says nobody can pay: no longer reconciled.
EXPIRED = "expired"


@translate_errors
def settle_unpaid(session: str, at: datetime) -> str:
    """A Checkout Session that will not be paid (expired, failed, or given up by the
    reconciliation): its hold is released exactly as a participant's cancel (the meeting
    CANCELED, the slot open again while its window lasts), in one transaction with the
    record's HELD → RELEASED. A hold a cancel released leaves the reconciliation (EXPIRED).
    Any other state: nothing changes."""
    for _ in range(3):
        record = get_record(session)
        if record is None:
            return NOT_OURS
        if record.status == RELEASED and record.open == OPEN_HOLD:
            if _commit([_transition(record, RELEASED)]):
                return EXPIRED
            continue
        if record.status != HELD:
            return UNCHANGED
        writes = [_transition(record, RELEASED), _holds_release(record)]
        booking = get_booking(record.meeting_id)
        if _holding(booking, session):
            # released as its participant's cancel: the slot reopens while its window lasts
            participant = booking.meeting.participant
            window_end = booking.availability.endTime if booking.availability else None
            reopen = reopens(participant, participant, window_end, at)
            writes += cancel_writes(booking, booking.meeting.participant, reopen=reopen)
            meeting = booking.meeting  # its cancel, in both members' calendar feeds
            writes += feed_version.raises((meeting.owner, meeting.participant), at)
        if _commit(writes):
            return RELEASED
    raise Conflict("The payment changed while it was recorded: please retry")


def _expect(record: Record, status: str) -> None:
    """The meeting, as the cancel read it, and its record disagree: a payment or a release
    moved the record since; the meeting's own condition would fail too."""
    if record.status != status:
        raise Conflict("This meeting changed while you canceled it: please try again")


def _commit(writes: list[dict]) -> bool:
    """False when a condition failed (someone else moved first: read again)."""
    try:
        dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error_code(error) != "TransactionCanceledException":
            raise
        return False
    return True


def cancel_hold_writes(record: Record) -> list[dict]:
    """A player's or coach's cancel of a held slot, in the cancel's transaction. The record
    stays in OpenIndex (at the hold's due time, after Stripe's own expiry): the cancel's
    expire of the session is best effort, so the reconciliation asks Stripe until it says
    the session expired, and refunds a payment it finds."""
    _expect(record, HELD)
    return [_transition(record, RELEASED, reconcile=True), _holds_release(record)]


def cancel_paid_writes(record: Record, refund_due: bool, at: datetime) -> list[dict]:
    """A paid meeting's cancel decides its refund in the cancel's own transaction."""
    _expect(record, CONFIRMED)
    if refund_due:
        return [_refund_decision(record, "canceled in time", at)]
    return [_transition(record, KEPT)]


@translate_errors
def claim_refund_attempt(session: str) -> Record | None:
    """The next attempt at a pending refund (its number names its idempotency key); None
    when the refund is not pending any more."""
    item = conditional(
        dynamodb().update_item,
        TableName=payments_table(),
        Key=to_item({"id": session}),
        UpdateExpression="ADD refundAttempts :one",
        ConditionExpression="#status = :pending",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=to_item({":one": 1, ":pending": REFUND_PENDING}),
        ReturnValues="ALL_NEW",
    )
    if item is None:
        return None
    return Record.from_item(from_item(item["Attributes"]))


@translate_errors
def record_refund(
    record: Record,
    refund_id: str | None,
    stripe_status: str,
    at: datetime,
    failure: str | None = None,
) -> str | None:
    """The refund as Stripe reports it (the create's answer, a retrieve, an event): the record
    moves forward to its state (REFUND_STATES), showing it on the meeting the session paid
    for while it is still that meeting, in one transaction. Pending again: looked up later.
    Returns the new status, or None when the record moved first or is further along (an old
    or repeated report changes nothing)."""
    to = refund_move(record.status, stripe_status)  # forward only (rules/refunds.py)
    if to is None:
        return None
    if refund_id and record.refund_id and refund_id != record.refund_id:
        return None  # not the refund this record made
    sets: dict = {"refundStatus": stripe_status}
    if refund_id and not record.refund_id:
        sets["refundId"] = refund_id
    if to == REFUND_SUBMITTED:
        sets.update(open=OPEN_REFUND, dueAt=format_time(at + REFUND_CHECK_EVERY))
    elif to == REFUND_FAILED:
        sets["refundFailure"] = failure or stripe_status
    writes = [_transition(record, to, sets)]
    if to != record.status:
        writes.append(_show_refund(record, to))
    if _commit_first(writes):
        return to
    return None


@translate_errors
def fail_refund(record: Record, failure: str) -> bool:
    """Stripe refused the refund itself (the create): REFUND_FAILED, shown on the meeting.
    False if the record moved first."""
    writes = [
        _transition(record, REFUND_FAILED, {"refundFailure": failure}),
        _show_refund(record, REFUND_FAILED),
    ]
    return _commit_first(writes)


_SHOWN = {
    REFUND_SUBMITTED: REFUND_SHOWN_PENDING,
    REFUNDED: REFUND_SUCCEEDED,
    REFUND_FAILED: REFUND_SHOWN_FAILED,
}


def _show_refund(record: Record, state: str) -> dict:
    return {
        "Update": {
            "TableName": MEETINGS_TABLE,
            "Key": to_item({"id": record.meeting_id}),
            "UpdateExpression": "SET refund = :refund",
            "ConditionExpression": "checkoutSessionId = :session",
            "ExpressionAttributeValues": to_item(
                {
                    ":refund": {"status": _SHOWN[state], "amount": record.refund_amount or 0},
                    ":session": record.session,
                }
            ),
        }
    }


def _commit_first(writes: list[dict]) -> bool:
    """The record's transition with the meeting's display: without the meeting's when the
    meeting is not that session's any more (rebooked by someone else, removed by TTL). False
    when the record's own condition failed (it moved first)."""
    try:
        dynamodb().transact_write_items(TransactItems=writes)
        return True
    except ClientError as error:
        if error_code(error) != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if not reasons or reasons[0] == "ConditionalCheckFailed" or len(writes) == 1:
            return False
    return _commit(writes[:1])


@translate_errors
def due(kind: str, at: datetime) -> list[Record]:
    """The records the reconciliation acts on: holds past their expiry (OPEN_HOLD) or
    refunds still pending (OPEN_REFUND), due at `at` or before."""
    request = {
        "TableName": payments_table(),
        "IndexName": "OpenIndex",
        "KeyConditionExpression": "#open = :kind AND dueAt <= :at",
        "ExpressionAttributeNames": {"#open": "open"},
        "ExpressionAttributeValues": to_item({":kind": kind, ":at": format_time(at)}),
    }
    return [Record.from_item(from_item(item)) for item in query_items(request)]
