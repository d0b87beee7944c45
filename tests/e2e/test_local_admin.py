"""`make run` with LOCAL_ADMINS: the listed accounts are admins from sign-up, the admin pages
answer them (and 403 everyone else), and the statistics follow the activity through the
tables' streams, counted by countStatistics as on AWS."""

import time

import pytest
from local_stack import running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("admin"), {"LOCAL_ADMINS": "Root@example.com ,x@y.z"}
    ) as s:
        yield s


def token(stack, username):
    return stack.sign_up_and_in(username)["IdToken"]


def until(check, seconds=15.0):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_admins_from_sign_up_see_the_admin_pages_and_the_statistics(stack):
    root, anna, boris = (token(stack, name) for name in ("root", "anna", "boris"))
    for player, cohort in ((anna, "1500-1600"), (boris, "1200-1300")):
        status, _, _ = stack.call("PUT", "/user", player, {"dojoCohort": cohort})
        assert status == 200

    assert stack.call("GET", "/user", root)[2]["isAdmin"] is True
    assert stack.call("GET", "/user", anna)[2]["isAdmin"] is False
    for path in ("/admin/user", "/admin/availability", "/admin/meeting", "/admin/statistics"):
        assert stack.call("GET", path, anna)[0] == 403, path

    offer = {
        "owner": "anna", "ownerDiscord": "anna#1", "ownerCohort": "1500-1600",
        "startTime": "2030-01-01T09:00:00Z", "endTime": "2030-01-01T12:00:00Z",
        "types": ["CLASSICAL_GAME", "ANALYZE_OWN_GAME"], "cohorts": ["ALL_COHORTS"],
    }  # fmt: skip
    status, _, published = stack.call("PUT", "/availability", anna, offer)
    assert status == 200
    # boris finds it on his calendar, as the original frontend does, and books it
    calendar = stack.call("GET", "/calendar?startTime=2030-01-01T00:00:00Z", boris)[2]
    assert [a["id"] for a in calendar["availabilities"]] == [published["id"]]
    booking = {"owner": "anna", "id": published["id"], "startTime": "2030-01-01T10:00:00Z",
               "type": "ANALYZE_OWN_GAME"}  # fmt: skip
    assert stack.call("PUT", "/availability/book", boris, booking)[0] == 200

    def counted():
        status, _, statistics = stack.call("GET", "/admin/statistics", root)
        assert status == 200
        meetings = statistics["meetingStatistics"]
        return meetings["created"] == 1 and statistics

    statistics = until(counted)
    assert statistics, stack.output.read_text()[-3000:]
    assert statistics["availabilityStatistics"]["created"] == 1
    assert statistics["availabilityStatistics"]["booked"] == 1
    assert statistics["availabilityStatistics"]["types"] == {
        "CLASSICAL_GAME": 1, "ANALYZE_OWN_GAME": 1,
    }  # fmt: skip
    assert statistics["meetingStatistics"]["participantCohorts"] == {"1200-1300": 1}
    assert statistics["meetingStatistics"]["types"] == {"ANALYZE_OWN_GAME": 1}

    users = stack.call("GET", "/admin/user?limit=1", root)[2]
    assert len(users["users"]) == 1 and users["lastEvaluatedKey"]
    meetings = stack.call("GET", "/admin/meeting", root)[2]["meetings"]
    assert [m["id"] for m in meetings] == [published["id"]]
