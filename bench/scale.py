"""`make bench-scale`: what a request reads as the club's data grows.

Loads 1k, then 10k, then 50k availabilities and as many meetings (spread over two months, the
club's cohorts, owners and group sessions, as TTL would leave them) into the emulator (moto, in
this process) and, at each size, walks every page of four requests a typical player makes:
a search, their own list, their meetings and their calendar. For each it reports the items
DynamoDB read (a Query's ScannedCount, a BatchGetItem's items) per item returned, and the
calls per page. A request whose reads grow with the table instead of its pages is a defect.

    .venv/bin/python -m bench.scale [SIZES...]     (default: 1000 10000 50000)

The table is printed, written to bench/results/scale.md and into docs/performance.md (between its
`bench:scale` markers, with the commit and the date).
"""

import json
import os
import random
import shlex
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    USERS_TABLE="test-users",
    AVAILABILITIES_TABLE="test-availabilities",
    MEETINGS_TABLE="test-meetings",
    POWERTOOLS_LOG_LEVEL="ERROR",
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(variable, None)

from moto import mock_aws  # noqa: E402

from bench import doc  # noqa: E402
from database.client import dynamodb, to_item  # noqa: E402
from database.models import AVAILABILITY_TYPES, COHORTS  # noqa: E402
from database.times import format_time  # noqa: E402
from support import TABLE_NAMES, create_tables, http_event  # noqa: E402

USERS, AVAILABILITIES, MEETINGS = (
    TABLE_NAMES[name] for name in ("UsersTable", "AvailabilitiesTable", "MeetingsTable")
)
DAYS = 60  # from two days ago (older items are TTL'd) to two months ahead
ITEMS_PER_PLAYER = 40  # availabilities and meetings a player has on the books at once
MAX_PAGES = 50
RESULTS = ROOT / "bench" / "results"


class Reads:
    """DynamoDB calls and items read, from each call's parsed answer."""

    def __init__(self) -> None:
        self.calls = self.items = 0

    def __call__(self, parsed, model, **_) -> None:
        self.calls += 1
        if model.name == "Query":
            self.items += parsed.get("ScannedCount", 0)
        elif model.name == "BatchGetItem":
            self.items += sum(len(items) for items in parsed.get("Responses", {}).values())
        elif model.name == "GetItem":
            self.items += "Item" in parsed


def players(count: int) -> list[dict]:
    return [
        {
            "username": f"player{n:05d}",
            "discordUsername": f"player{n:05d}",
            "dojoCohort": COHORTS[n % len(COHORTS)],
            "email": f"player{n:05d}@example.com",
        }
        for n in range(count)
    ]


def generate(start: int, count: int, club: list[dict], now: datetime, rng: random.Random):
    """`count` availabilities and `count` meetings (ids from `start`) over the club."""
    for n in range(start, start + count):
        owner, other = rng.sample(club, 2)
        begins = now + timedelta(days=rng.uniform(-2, DAYS - 2))
        begins = begins.replace(minute=0, second=0, microsecond=0)
        ends = begins + timedelta(hours=rng.choice((1, 2, 3)))
        cohorts = rng.sample(COHORTS, rng.randint(1, 4))
        if rng.random() < 0.1:
            cohorts = ["ALL_COHORTS"]
        seats = rng.choice((3, 5, 10)) if rng.random() < 0.1 else 1
        yield (
            AVAILABILITIES,
            {
                "owner": owner["username"],
                "id": f"a{n:06d}",
                "ownerDiscord": owner["discordUsername"],
                "ownerCohort": owner["dojoCohort"],
                "startTime": format_time(begins),
                "endTime": format_time(ends),
                "types": rng.sample(AVAILABILITY_TYPES, rng.randint(1, 3)),
                "cohorts": cohorts,
                "location": "",
                "description": "",
                "maxParticipants": seats,
                "status": "SCHEDULED",
                "participants": {},
                "participantCount": 0,
                "expirationTime": int((ends + timedelta(hours=48)).timestamp()),
            },
        )
        yield (
            MEETINGS,
            {
                "id": f"m{n:06d}",
                "owner": owner["username"],
                "participant": other["username"],
                "startTime": format_time(begins),
                "type": "CLASSICAL_GAME",
                "location": "",
                "description": "",
                "status": "CANCELED" if rng.random() < 0.1 else "SCHEDULED",
                "expirationTime": int((begins + timedelta(hours=48)).timestamp()),
            },
        )


def load(client, items) -> None:
    batch: list[tuple[str, dict]] = []
    for entry in items:
        batch.append(entry)
        if len(batch) == 25:
            _write(client, batch)
            batch = []
    if batch:
        _write(client, batch)


def _write(client, batch) -> None:
    requests: dict[str, list] = {}
    for table, item in batch:
        requests.setdefault(table, []).append({"PutRequest": {"Item": to_item(item)}})
    client.batch_write_item(RequestItems=requests)


def walk(reads: Reads, handler, route: str, caller: str, lists: tuple[str, ...], **query):
    """Every page of a request (up to MAX_PAGES): (items returned, items read, calls, pages)."""
    returned, key, pages = 0, None, 0
    reads.calls = reads.items = 0
    while pages < MAX_PAGES:
        params = {**query, **({"startKey": key} if key else {})}
        response = handler(http_event(route, caller=caller, query=params or None), None)
        assert response["statusCode"] == 200, response
        page = json.loads(response["body"])
        returned += sum(len(page[name]) for name in lists)
        pages += 1
        key = page.get("lastEvaluatedKey")
        if key is None:
            break
    return returned, reads.items, reads.calls, pages


def measure(reads: Reads, player: dict, now: datetime) -> dict[str, tuple]:
    from handlers.availability import get as get_availability
    from handlers.calendar import get as get_calendar
    from handlers.meeting import list as list_meetings

    week = {
        "byTime": "1",
        "startTime": format_time(now),
        "endTime": format_time(now + timedelta(days=7)),
    }
    name = player["username"]
    return {
        "search (a week)": walk(
            reads, get_availability.handler, "GET /availability", name, ("availabilities",), **week
        ),
        "own availabilities": walk(
            reads, get_availability.handler, "GET /availability", name, ("availabilities",)
        ),
        "meetings (both sides)": walk(
            reads, list_meetings.handler, "GET /meeting", name, ("meetings",)
        ),
        "calendar": walk(
            reads, get_calendar.handler, "GET /calendar", name, ("availabilities", "meetings")
        ),
    }


def main(sizes: list[int]) -> int:
    doc.check("scale")  # a doc without its markers fails now, not after the loading
    code = doc.revision()
    rng = random.Random(7)
    now = datetime.now(UTC)
    lines = [
        "# make bench-scale",
        "",
        f"{ITEMS_PER_PLAYER} items per player on the books (the club grows with its data); "
        f"items over {DAYS} days; 10% group sessions, 10% ALL_COHORTS, 10% canceled meetings. "
        "Per request, every page walked (at most "
        f"{MAX_PAGES}) for a typical player; reads = Query ScannedCount + BatchGetItem items.",
        "",
        "| availabilities + meetings | request | returned | read | read / returned "
        "| calls / page | pages |",
        "|---|---|---|---|---|---|---|",
    ]
    with mock_aws():
        client = dynamodb()
        create_tables(client)
        reads = Reads()
        client.meta.events.register("after-call.dynamodb", reads)
        loaded, club = 0, []
        for size in sorted(sizes):
            club = players(max(50, 2 * size // ITEMS_PER_PLAYER))
            load(client, ((USERS, user) for user in club))
            started = time.perf_counter()
            load(client, generate(loaded, size - loaded, club, now, rng))
            print(f"loaded {size} + {size} in {time.perf_counter() - started:.0f} s", flush=True)
            loaded = size
            player = club[len(club) // 2]
            for request, (returned, read, calls, pages) in measure(reads, player, now).items():
                ratio = read / returned if returned else float("nan")
                lines.append(
                    f"| {size:,} + {size:,} | {request} | {returned} | {read} | {ratio:.2f} "
                    f"| {calls / pages:.1f} | {pages} |"
                )
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.md").write_text(table)
    print(f"written to {(RESULTS / 'scale.md').relative_to(ROOT)}")
    _title, _, body = table.partition("\n\n")  # the doc's section has its own heading
    command = shlex.join(["python", "-m", "bench.scale", *sys.argv[1:]])
    doc.write("scale", body, command=command, code=code, when=now)
    print(f"and into {doc.DOC.relative_to(ROOT)} (commit it with the code it measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main([int(size) for size in sys.argv[1:]] or [1000, 10000, 50000]))
