"""Rescheduling on `make run` (contract v4, "Rescheduling"), over HTTP as the frontend would: a
player moves a booked game and both members see the new time, the old slot is bookable again;
a paid session moves without a new payment or a refund (the Stripe stand-in, local/stripe.py);
two players racing for one slot end with exactly one meeting."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from local_stack import Stack, running_stack

PRICE = {"amount": 5000, "currency": "usd"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("local")) as started:
        yield started


@pytest.fixture(scope="module")
def players(stack: Stack) -> dict[str, str]:
    names = ("coach", "bob", "carol")
    return {name: stack.sign_up_and_in(name)["IdToken"] for name in names}


def publish(stack: Stack, token: str, day: int, hour: int = 10, **fields) -> str:
    body = {
        "owner": "coach",
        "ownerDiscord": "coach#1",
        "ownerCohort": "1500-1600",
        "startTime": f"2030-03-{day:02d}T{hour:02d}:00:00Z",
        "endTime": f"2030-03-{day:02d}T{hour + 2:02d}:00:00Z",
        "types": ["CLASSICAL_GAME"],
        "cohorts": ["ALL_COHORTS"],
        **fields,
    }
    status, _, published = stack.call("PUT", "/availability", token, body)
    assert status == 200, published
    return published["id"]


def book(stack: Stack, token: str, slot: str, day: int, hour: int = 10) -> tuple[int, dict]:
    booking = {"owner": "coach", "id": slot, "startTime": f"2030-03-{day:02d}T{hour:02d}:00:00Z"}
    booking["type"] = "CLASSICAL_GAME"
    status, _, answer = stack.call("PUT", "/availability/book", token, booking)
    return status, answer


def move(stack: Stack, token: str, meeting: str, slot: str, day: int) -> tuple[int, dict]:
    body = {"owner": "coach", "id": slot, "startTime": f"2030-03-{day:02d}T10:00:00Z"}
    status, _, answer = stack.call("PUT", f"/meeting/reschedule/{meeting}", token, body)
    return status, answer


def meeting(stack: Stack, token: str, meeting_id: str) -> dict:
    status, _, answer = stack.call("GET", f"/meeting/{meeting_id}", token)
    assert status == 200, answer
    return answer["meeting"]


def test_a_player_moves_a_booked_game(stack: Stack, players):
    coach, bob = players["coach"], players["bob"]
    first, second = publish(stack, coach, 3), publish(stack, coach, 4)
    assert book(stack, bob, first, 3)[0] == 200

    status, moved = move(stack, bob, first, second, 4)

    assert status == 200, moved
    assert (moved["id"], moved["rescheduledFrom"]) == (second, first)
    for token in (coach, bob):
        assert meeting(stack, token, second)["startTime"].startswith("2030-03-04T10:00")
        old = meeting(stack, token, first)
        assert (old["status"], old["rescheduledTo"]) == ("CANCELED", second)
    # The old slot is bookable again.
    status, again = book(stack, players["carol"], first, 3)
    assert status == 200 and again["participant"] == "carol"


def stripe(stack: Stack) -> dict:
    status, _, state = stack.call("GET", "/_local/stripe")
    assert status == 200
    return state


def control(stack: Stack, path: str) -> dict:
    status, _, answer = stack.call("POST", f"/_local/stripe{path}")
    assert status == 200, answer
    return answer


def test_a_paid_session_moves_without_a_new_payment_or_a_refund(stack: Stack, players):
    coach, bob = players["coach"], players["bob"]
    status, _, onboarding = stack.call("POST", "/payments/account", coach)
    assert status == 200 and onboarding["connected"] is True
    [account] = stripe(stack)["accounts"]
    control(stack, f"/accounts/{account['id']}/enable")
    first = publish(stack, coach, 10, price=PRICE)
    second = publish(stack, coach, 11, price=PRICE)
    status, held = book(stack, bob, first, 10)
    assert status == 200 and held["status"] == "AWAITING_PAYMENT", held
    [session] = [s for s in stripe(stack)["checkoutSessions"] if s["url"] == held["checkoutUrl"]]
    assert control(stack, f"/checkout/{session['id']}/complete")["status"] == 200
    assert meeting(stack, bob, first)["status"] == "SCHEDULED"
    sessions = len(stripe(stack)["checkoutSessions"])

    status, moved = move(stack, bob, first, second, 11)

    assert status == 200, moved
    assert moved["status"] == "SCHEDULED" and moved["price"] == PRICE
    assert "checkoutUrl" not in moved
    assert meeting(stack, players["coach"], second)["startTime"].startswith("2030-03-11")
    time.sleep(2)  # the refund function would run off the request path by now
    state = stripe(stack)
    assert len(state["checkoutSessions"]) == sessions
    [paid] = [s for s in state["checkoutSessions"] if s["id"] == session["id"]]
    assert [r for r in state["refunds"] if r["payment_intent"] == paid["payment_intent"]] == []


def test_two_players_racing_for_one_slot_end_with_one_meeting(stack: Stack, players):
    coach, bob, carol = players["coach"], players["bob"], players["carol"]
    mine = publish(stack, coach, 20)
    target = publish(stack, coach, 21)
    assert book(stack, bob, mine, 20)[0] == 200

    with ThreadPoolExecutor(max_workers=2) as pool:
        moving = pool.submit(move, stack, bob, mine, target, 21)
        booking = pool.submit(book, stack, carol, target, 21)
        statuses = sorted([moving.result()[0], booking.result()[0]])

    assert statuses[0] == 200 and statuses[1] in (404, 409), statuses
    holders = []
    for token, name in ((bob, "bob"), (carol, "carol")):
        status, _, page = stack.call("GET", "/meeting", token)
        assert status == 200
        holders += [
            name
            for m in page["meetings"]
            if m["id"] == target and m["status"] == "SCHEDULED" and m["participant"] == name
        ]
    assert len(holders) == 1, holders
