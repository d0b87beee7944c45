"""What is measured: one realistic, successful request per handler, and the data it needs.

The same items seed the emulator (cold starts) and make up the canned DynamoDB answers (warm
runs), so every request succeeds with status 200 both ways. Booking and deleting consume their
availability, so each round `r` books and deletes its own (`book-r`, `del-r`).
"""

import base64
import hashlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import TABLE_NAMES, http_event, post_confirmation_event  # noqa: E402
from support import uuid as _id  # noqa: E402 (ids as the API issues them: UUIDs)

USERS, AVAILABILITIES, MEETINGS, STATISTICS, TOURNAMENTS, REMINDERS = (
    TABLE_NAMES[name]
    for name in (
        "UsersTable",
        "AvailabilitiesTable",
        "MeetingsTable",
        "StatisticsTable",
        "TournamentsTable",
        "RemindersTable",
    )
)
TABLE_ENV = {
    "USERS_TABLE": USERS,
    "AVAILABILITIES_TABLE": AVAILABILITIES,
    "MEETINGS_TABLE": MEETINGS,
    "STATISTICS_TABLE": STATISTICS,  # read by the admin's statistics only
}
# A feature's settings, only in the environment of its cases' functions, as on a stage where
# only those functions have them: with them, the version 1 functions would do more (the
# calendar lists tournaments where their table is set).
TOURNAMENTS_ENV = {"TOURNAMENTS_TABLE": TOURNAMENTS}
# The secret's name turns payments on; GET /payments/account reads no secret and calls no Stripe.
PAYMENTS_ENV = {"STRIPE_SECRET_NAME": "dojo-scheduler/bench/stripe"}
# A shop to ask; GET /user/access asks it at most once a minute per player (membership.check).
MEMBERSHIP_ENV = {
    "SHOP_SECRET_NAME": "dojo-scheduler/bench/shop",
    "SHOP_URL": "http://127.0.0.1:9",  # never reached: mia's check is recent (MIA)
}

# The reminders' table (contract v4): sendReminders' only setting beyond the three tables (no
# Discord bot, no mail: a run that finds nothing due, as most minutes' runs do).
REMINDERS_ENV = {"REMINDERS_TABLE": REMINDERS}


def scheduled_event(time: str) -> dict:
    """EventBridge's Scheduled Event at `time` (what a `schedule` function receives)."""
    return {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "time": time}


# bob searches this day; the per-round availabilities (2031) stay outside it, so every
# search returns the same page however many rounds have booked or deleted theirs.
SEARCH = {"byTime": "1", "startTime": "2030-01-01T00:00:00Z", "endTime": "2030-01-02T00:00:00Z"}


def _user(username: str, cohort: str) -> dict:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "name": username.title(),
        "discordUsername": f"{username}#1234",
        "chesscomUsername": username,
        "lichessUsername": username,
        "dojoCohort": cohort,
    }


def _availability(owner: str, id: str, day: str, cohorts: list[str]) -> dict:
    # As database.availabilities stores it: UTC times, lists, status and TTL.
    return {
        "owner": owner,
        "ownerDiscord": f"{owner}#1234",
        "ownerCohort": "1500-1600",
        "id": _id(id),
        "startTime": f"{day}T09:00:00.000Z",
        "endTime": f"{day}T12:00:00.000Z",
        "types": ["CLASSICAL_GAME", "OPENING_SPARRING"],
        "cohorts": cohorts,
        "status": "SCHEDULED",
        "expirationTime": 1924678800,
    }


def _meeting(id: str, owner: str, participant: str) -> dict:
    return {
        "id": _id(id),
        "owner": owner,
        "participant": participant,
        "startTime": "2030-01-01T10:00:00.000Z",
        "type": "CLASSICAL_GAME",
        "expirationTime": 1924678800,
    }


ALICE = {**_user("alice", "1500-1600"), "isAdmin": True}  # the admin routes' caller
ERIN = _user("erin", "1200-1300")  # books dave's availabilities
# A member whose membership was checked within the minute at every round: her access is read
# from her profile (the claim to ask the shop again is refused), as for most page loads.
MIA = {
    **_user("mia", "1200-1300"),
    "subscriptionStatus": "SUBSCRIBED",
    "membershipCheckedAt": 4102444800,
}  # 2100-01-01: never due
USER_ITEMS = [ALICE, *(_user(name, "1200-1300") for name in ("bob", "dave")), ERIN, MIA]
ALICE_AVAILABILITIES = [
    _availability("alice", f"alice-{n}", "2030-01-01", ["ALL_COHORTS", "1500-1600"])
    for n in range(3)
] + [_availability("alice", "alice-set", "2030-01-03", ["1500-1600"])]  # replaced by each round
MEETING_ITEMS = [_meeting("m1", "alice", "bob"), _meeting("m2", "bob", "alice")]
# bob's calendar-feed address (database/feed.py: `<name>.<secret>`) and his feed item, which
# keeps its hash and his feed version (database/feed_version.py), changed long ago: settled.
FEED_TOKEN = base64.urlsafe_b64encode(b"bob").decode().rstrip("=") + "." + "B" * 43
FEED_ITEM = {
    "username": "calendar-feed-of#bob",
    "feedOwner": "bob",
    "tokenHash": hashlib.sha256(FEED_TOKEN.encode()).hexdigest(),
    "feedVersion": 7,
    "feedChangedAt": 1767225600,
}


def round_meetings(round: int) -> list[dict]:
    """The meeting between dave and erin that round `round` cancels (dave, its owner)."""
    return [_meeting(f"cancel-{round}", "dave", "erin")]


def round_availabilities(round: int) -> list[dict]:
    """dave's availabilities that round `round` books (erin) and deletes (dave)."""
    return [
        _availability("dave", f"{kind}-{round}", "2031-01-01", ["ALL_COHORTS"])
        for kind in ("book", "del")
    ]


def seed_items(rounds: int) -> dict[str, list[dict]]:
    """Every item the emulator needs for rounds 0 (the warm-up) to `rounds`."""
    consumed = [item for r in range(rounds + 1) for item in round_availabilities(r)]
    return {
        USERS: [*USER_ITEMS, FEED_ITEM],
        AVAILABILITIES: ALICE_AVAILABILITIES + consumed,
        MEETINGS: MEETING_ITEMS + [item for r in range(rounds + 1) for item in round_meetings(r)],
    }


def _feed_poll(etag: str | None) -> dict:
    event = http_event(
        "GET /public/calendar-feed/{file}", caller=None, path={"file": f"{FEED_TOKEN}.ics"}
    )
    if etag:
        event["headers"]["if-none-match"] = etag
    return event


def _feed_etag() -> str:
    """bob's feed's ETag today, as the function computes it (in this process, not the one
    measured)."""
    from datetime import UTC, datetime

    from feeds import etag

    return etag("bob", FEED_ITEM["feedVersion"], datetime.now(UTC).date().isoformat())


SET_AVAILABILITY = {
    "owner": "alice",
    "ownerDiscord": "alice#1234",
    "ownerCohort": "1500-1600",
    "id": _id("alice-set"),
    "startTime": "2030-01-03T09:00:00Z",
    "endTime": "2030-01-03T12:00:00Z",
    "types": ["CLASSICAL_GAME"],
    "cohorts": ["1500-1600", "1600-1700"],
}


@dataclass(frozen=True)
class Case:
    name: str  # the row
    function: str  # serverless.yml function (its zip)
    module: str  # the handler module
    original: int | None  # DynamoDB calls the Go backend made (None: new in version 2)
    event: Callable[[int], dict]  # round -> event
    max_calls: int | None = None  # a stricter target than `original` (or the only one)
    env: Mapping[str, str] = field(default_factory=dict)  # its feature's settings, if any
    succeeds_with: int = 200  # its HTTP status (a feed poll that finds nothing changed: 304)

    @property
    def call_target(self) -> int:
        return min(n for n in (self.original, self.max_calls) if n is not None)


CASES = [
    Case("user/create", "createUser", "handlers.user.create", 1,
         lambda r: post_confirmation_event(f"new-{r}")),
    Case("user/get", "getUser", "handlers.user.get", 1,
         lambda r: http_event("GET /user")),
    Case("user/set", "setUser", "handlers.user.set", 2,
         lambda r: http_event("PUT /user", body={"discordUsername": "alice#1234"}), 1),
    Case("availability/set", "setAvailability", "handlers.availability.set", 1,
         lambda r: http_event("PUT /availability", body=SET_AVAILABILITY)),
    Case("availability/get (own)", "getAvailability", "handlers.availability.get", 1,
         lambda r: http_event("GET /availability")),
    Case("availability/get (byTime)", "getAvailability", "handlers.availability.get", 2,
         lambda r: http_event("GET /availability", caller="bob", query=SEARCH)),
    Case("availability/delete", "deleteAvailability", "handlers.availability.delete", 1,
         lambda r: http_event("DELETE /availability/{id}", caller="dave",
                              path={"id": _id(f"del-{r}")})),
    Case("availability/book", "bookAvailability", "handlers.availability.book", 4,
         lambda r: http_event("PUT /availability/book", caller="erin", body={
             "owner": "dave", "id": _id(f"book-{r}"),
             "startTime": "2031-01-01T10:00:00Z", "type": "CLASSICAL_GAME",
         }), 2),
    Case("meeting/get", "getMeeting", "handlers.meeting.get", 2,
         lambda r: http_event("GET /meeting/{id}", caller="bob", path={"id": _id("m1")})),
    Case("meeting/list", "listMeetings", "handlers.meeting.list", 2,
         lambda r: http_event("GET /meeting", caller="bob")),
    # Version 2: no Go figure to beat; the targets pin today's counts.
    Case("meeting/cancel", "cancelMeeting", "handlers.meeting.cancel", None,
         lambda r: http_event("PUT /meeting/cancel/{id}", caller="dave",
                              path={"id": _id(f"cancel-{r}")}), 2),
    # Version 3: + the caller's cohort (GetItem) and the bookable availabilities (Query).
    Case("calendar/get", "getCalendar", "handlers.calendar.get", None,
         lambda r: http_event("GET /calendar", caller="bob"), 6),
    # Since version 2: the admin's pages (the caller's profile, then a page of a table; the
    # counters: two items read together), the public tournaments, the payout account.
    Case("admin/users", "adminListUsers", "handlers.admin.users", None,
         lambda r: http_event("GET /admin/user"), 2),
    Case("admin/availabilities", "adminListAvailabilities", "handlers.admin.availabilities", None,
         lambda r: http_event("GET /admin/availability"), 2),
    Case("admin/meetings", "adminListMeetings", "handlers.admin.meetings", None,
         lambda r: http_event("GET /admin/meeting"), 2),
    Case("admin/statistics", "adminGetStatistics", "handlers.admin.statistics", None,
         lambda r: http_event("GET /admin/statistics"), 3),
    Case("tournaments/list", "listTournaments", "handlers.tournaments.list", None,
         lambda r: http_event("GET /public/tournaments", caller=None), 1, TOURNAMENTS_ENV),
    Case("payments/account", "getStripeAccount", "handlers.payments.account", None,
         lambda r: http_event("GET /payments/account"), 1, PAYMENTS_ENV),
    Case("user/access", "getUserAccess", "handlers.user.access", None,
         lambda r: http_event("GET /user/access", caller="mia"), 1, MEMBERSHIP_ENV),
    # Version 4: bob's calendar feed read in full, as an app's first poll (no If-None-Match):
    # his feed item, then his four parts at once. (One that finds it unchanged: the GetItem.)
    Case("calendar/feed", "getCalendarFeed", "handlers.calendar.feed", None,
         lambda r: _feed_poll(None), 5),
    # ...and an app's later poll that finds it unchanged: a 304 after one GetItem, which never
    # loads the iCalendar writer.
    Case("calendar/feed (unchanged)", "getCalendarFeed", "handlers.calendar.feed", None,
         lambda r: _feed_poll(_feed_etag()), 1, succeeds_with=304),
    # Version 4: a minute's run of the reminders with nothing due: one Query of DueIndex per
    # hour of its 2-hour catch-up window (3 buckets).
    Case("reminders/send", "sendReminders", "handlers.reminders.send", None,
         lambda r: scheduled_event("2030-01-01T09:30:00Z"), 3, REMINDERS_ENV),
]  # fmt: skip


def env_groups() -> list[Mapping[str, str]]:
    """The distinct feature settings of CASES, {} (none) first: the warm run serves each group
    in a process of its own, since a function reads its settings once."""
    groups: list[Mapping[str, str]] = [{}]
    for case in CASES:
        if case.env not in groups:
            groups.append(case.env)
    return groups


def status(result: dict) -> int:
    """A handler's HTTP status; the Cognito trigger returns its event, i.e. success."""
    return result.get("statusCode", 200) if isinstance(result, dict) else 0
