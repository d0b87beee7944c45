"""Paid sessions on `make run` with the Stripe stand-in (local/stripe.py), over HTTP as a
frontend and Stripe would: a coach onboards, a player books a priced slot, pays through the
control route, cancels; then every event is delivered again, in every order, and the money
is what the policy says. Lost events are caught by the reconciliation (`/_local/schedule`)."""

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from local_stack import Stack, running_stack

PRICE = {"amount": 5000, "currency": "usd"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("local")) as started:
        yield started


def stripe(stack: Stack) -> dict:
    status, _, state = stack.call("GET", "/_local/stripe")
    assert status == 200
    return state


def control(stack: Stack, path: str) -> dict:
    status, _, answer = stack.call("POST", f"/_local/stripe{path}")
    assert status == 200, answer
    return answer


def until(condition, timeout=30.0):
    """Waits for what the stream functions do off the request path."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return result


@pytest.fixture(scope="module")
def players(stack: Stack) -> dict[str, str]:
    tokens = {name: stack.sign_up_and_in(name)["IdToken"] for name in ("coach", "bob")}
    status, _, onboarding = stack.call("POST", "/payments/account", tokens["coach"])
    assert status == 200 and onboarding["connected"] is True
    [account] = stripe(stack)["accounts"]
    assert account["charges_enabled"] is False
    assert control(stack, f"/accounts/{account['id']}/enable")["status"] == 200
    _, _, mine = stack.call("GET", "/payments/account", tokens["coach"])
    assert mine["chargesEnabled"] is True  # from the signed account.updated
    return tokens


def publish_and_book(stack: Stack, players: dict[str, str], day: int) -> tuple[str, str]:
    start = f"2030-02-{day:02d}T10:00:00Z"
    published = {
        "owner": "coach",
        "ownerDiscord": "coach#1",
        "ownerCohort": "1500-1600",
        "startTime": start,
        "endTime": f"2030-02-{day:02d}T12:00:00Z",
        "types": ["CLASSICAL_GAME"],
        "cohorts": ["ALL_COHORTS"],
        "price": PRICE,
    }
    status, _, availability = stack.call("PUT", "/availability", players["coach"], published)
    assert status == 200, availability
    booking = {"owner": "coach", "id": availability["id"], "startTime": start}
    booking["type"] = "CLASSICAL_GAME"
    status, _, held = stack.call("PUT", "/availability/book", players["bob"], booking)
    assert status == 200, held
    assert held["status"] == "AWAITING_PAYMENT"
    [session] = [s for s in stripe(stack)["checkoutSessions"] if s["url"] == held["checkoutUrl"]]
    assert session["metadata"]["dojoSchedulerMeeting"] == availability["id"]
    return availability["id"], session["id"]


def meeting(stack: Stack, token: str, meeting_id: str) -> dict:
    status, _, answer = stack.call("GET", f"/meeting/{meeting_id}", token)
    assert status == 200, answer
    return answer["meeting"]


def refunds_of(stack: Stack, intent: str) -> list[dict]:
    return [r for r in stripe(stack)["refunds"] if r["payment_intent"] == intent]


def test_pay_cancel_and_every_redelivery_leave_one_refund(stack: Stack, players):
    meeting_id, session_id = publish_and_book(stack, players, 3)

    paid = control(stack, f"/checkout/{session_id}/complete")
    assert paid["status"] == 200
    assert meeting(stack, players["bob"], meeting_id)["status"] == "SCHEDULED"

    status, _, canceled = stack.call("PUT", f"/meeting/cancel/{meeting_id}", players["bob"])
    assert status == 200
    assert canceled["status"] == "CANCELED"
    assert canceled["refund"] == {"status": "pending", "amount": 5000}  # made off the path
    [session] = [s for s in stripe(stack)["checkoutSessions"] if s["id"] == session_id]
    intent = session["payment_intent"]
    [refund] = until(lambda: refunds_of(stack, intent))
    assert refund["amount"] == 5000
    shown = until(
        lambda: meeting(stack, players["bob"], meeting_id)["refund"]["status"] != "pending"
    )
    assert shown is True
    assert meeting(stack, players["bob"], meeting_id)["refund"] == {
        "status": "succeeded",
        "amount": 5000,
    }

    # every event of this session, again, in every order
    events = [e["id"] for e in stripe(stack)["events"] if e["type"].startswith("checkout.")]
    for order in itertools.permutations(events):
        for event_id in order:
            assert control(stack, f"/events/{event_id}/resend")["status"] == 200
    time.sleep(2)  # what the stream would do, it has done
    assert len(refunds_of(stack, intent)) == 1
    assert meeting(stack, players["bob"], meeting_id)["status"] == "CANCELED"


def test_a_lost_expiry_is_reconciled_and_its_late_delivery_changes_nothing(stack: Stack, players):
    meeting_id, session_id = publish_and_book(stack, players, 4)

    lost = control(stack, f"/checkout/{session_id}/expire?deliver=false")
    assert lost["status"] is None  # recorded, never sent
    assert meeting(stack, players["bob"], meeting_id)["status"] == "AWAITING_PAYMENT"

    later = (datetime.now(UTC) + timedelta(minutes=34)).isoformat()
    status, _, run = stack.call("POST", "/_local/schedule/reconcilePayments", body={"time": later})
    assert status == 200, run
    assert run["result"]["holds"] == {session_id: "RELEASED"}
    assert meeting(stack, players["bob"], meeting_id)["status"] == "CANCELED"

    assert control(stack, f"/events/{lost['event']}/resend")["status"] == 200
    assert meeting(stack, players["bob"], meeting_id)["status"] == "CANCELED"
    [session] = [s for s in stripe(stack)["checkoutSessions"] if s["id"] == session_id]
    assert session["payment_intent"] is None
    assert refunds_of(stack, None) == []


def test_a_paid_cancel_inside_the_window_is_kept_through_redeliveries(stack: Stack, players):
    """The coach's cancel always refunds; here the player plays and nothing is refunded:
    redelivering the payment after the meeting changes nothing."""
    meeting_id, session_id = publish_and_book(stack, players, 5)
    paid = control(stack, f"/checkout/{session_id}/complete")
    for _ in range(3):
        assert control(stack, f"/events/{paid['event']}/resend")["status"] == 200
    assert meeting(stack, players["bob"], meeting_id)["status"] == "SCHEDULED"
    [session] = [s for s in stripe(stack)["checkoutSessions"] if s["id"] == session_id]
    time.sleep(1)
    assert refunds_of(stack, session["payment_intent"]) == []
