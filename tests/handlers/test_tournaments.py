"""Club tournaments: the bot's calls (its token checked in constant time), the sites' APIs mocked at
the HTTP layer in their own shapes (`responses`), the leaderboards' transactions under concurrent
updates, the monthly job (re-run, MongoDB down, never answering or timing out mid-reset) against
the MongoDB stand-in over the wire protocol, and GET /calendar's tournaments."""

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta

import boto3
import pymongo
import pytest
import requests
import responses

from api.secrets import clear_caches
from database import tournaments as store
from database.errors import Unavailable
from database.times import parse_time
from handlers.calendar import get as get_calendar
from handlers.tournaments import create, get_leaderboard, snapshot, update_leaderboard
from handlers.tournaments import list as list_tournaments
from local.mongo import MongoStandIn
from support import SERVICE, RoundTrips, SilentServer, body, http_event, put_secret
from support import snapshot as table_snapshot
from tournaments import mongo, sites

SECRET_NAME = "dojo-scheduler/test/tournament"
TOKEN = "bot-token-0123456789"
BOT = {"authorization": f"Basic {TOKEN}"}
LICHESS = "https://lichess.org"
CHESSCOM = "https://api.chess.com"

ARENA = {  # GET https://lichess.org/api/tournament/{id}, trimmed
    "id": "Qa1Bc2De",
    "createdBy": "dojo-sensei",
    "startsAt": "2030-01-02T18:00:00Z",
    "system": "arena",
    "fullName": "Dojo Blitz Arena",
    "minutes": 60,
    "perf": {"key": "blitz", "name": "Blitz", "icon": ")"},
    "clock": {"limit": 180, "increment": 2},
    "variant": "standard",
    "rated": True,
    "berserkable": True,
    "verdicts": {"list": [], "accepted": True},
    "nbPlayers": 0,
    "isStarted": False,
    "secondsToStart": 86400,
    "description": "The club's weekly arena",
    "standing": {"page": 1, "players": []},
}
SWISS = {  # GET https://lichess.org/api/swiss/{id}
    "id": "Sw1ss234",
    "createdBy": "dojo-sensei",
    "startsAt": "2030-01-03T19:00:00.000+01:00",
    "name": "Dojo Rapid Swiss",
    "clock": {"limit": 900, "increment": 5},
    "variant": "standard",
    "round": 0,
    "nbRounds": 4,
    "nbPlayers": 0,
    "nbOngoing": 0,
    "status": "created",
    "rated": True,
    "verdicts": {"list": [], "accepted": True},
}
CHESSCOM_SWISS = {  # GET https://api.chess.com/pub/tournament/{url-ID}
    "name": "Dojo Classical Swiss",
    "url": "https://www.chess.com/tournament/live/dojo-classical-swiss-3960221",
    "description": "",
    "creator": "dojosensei",
    "status": "registration",
    "start_time": 1893780000,  # 2030-01-04T18:00:00Z
    "settings": {
        "type": "swiss",
        "rules": "chess",
        "time_class": "rapid",
        "time_control": "1800+10",
        "is_rated": True,
        "is_official": False,
        "is_invite_only": False,
        "initial_group_size": 0,
        "user_advance_count": 0,
        "use_tiebreak": True,
        "allow_vacation": False,
        "winner_places": 3,
        "registered_user_count": 2,
        "games_per_opponent": 1,
        "total_rounds": 5,
        "concurrent_games_per_opponent": 1,
    },
    "players": [{"username": "anna", "status": "registered"}],
    "rounds": [],
}
CHESSCOM_ARENA = {
    **CHESSCOM_SWISS,
    "name": "Dojo Blitz Arena (Chess.com)",
    "url": "https://www.chess.com/tournament/live/arena/dojo-blitz-arena-3960222",
    "start_time": 1893783600,  # 2030-01-04T19:00:00Z
    "finish_time": 1893787200,
    "settings": {**CHESSCOM_SWISS["settings"], "type": "arena", "time_class": "blitz"},
}
ARENA_URL = "https://lichess.org/tournament/Qa1Bc2De"
SWISS_URL = "https://lichess.org/swiss/Sw1ss234"


@pytest.fixture(scope="module")
def mongo_server():
    server = MongoStandIn()
    yield server
    server.stop()


@pytest.fixture
def bot_db(mongo_server):
    mongo_server.down = False
    mongo_server.client.drop_database(mongo.DATABASE)
    return mongo_server.client[mongo.DATABASE]


@pytest.fixture
def on(tables, monkeypatch, mongo_server):
    """A stage with tournaments: its table, and the bot's secret in Secrets Manager (moto)."""
    put_secret(SECRET_NAME, {"botAccessToken": TOKEN, "mongoConnectionString": mongo_server.url})
    monkeypatch.setenv("TOURNAMENTS_TABLE", "test-tournaments")
    monkeypatch.setenv("TOURNAMENT_SECRET_NAME", SECRET_NAME)
    monkeypatch.setitem(mongo.TIMEOUTS_MS, "serverSelectionTimeoutMS", 1000)
    clear_caches()
    sites._session.cache_clear()
    mongo.client.cache_clear()
    yield tables
    clear_caches()
    mongo.client.cache_clear()


@pytest.fixture
def site():
    with responses.RequestsMock() as mock:
        yield mock


def post_tournament(url, headers=BOT):
    event = http_event("POST /tournaments", caller=None, body={"url": url})
    event["headers"].update(headers)
    return create.handler(event, None)


def post_standings(players, headers=BOT, **fields):
    update = {"site": "lichess", "type": "ARENA", "timeControl": "BLITZ", "players": players}
    event = http_event("POST /tournaments/leaderboard", caller=None, body={**update, **fields})
    event["headers"].update(headers)
    return update_leaderboard.handler(event, None)


def leaderboard(period="monthly", date=None, **query):
    params = {
        "site": "lichess",
        "timePeriod": period,
        "tournamentType": "ARENA",
        "timeControl": "BLITZ",
        "date": date or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **query,
    }
    event = http_event("GET /public/tournaments/leaderboard", caller=None, query=params)
    return get_leaderboard.handler(event, None)


def run_job(time):
    return snapshot.handler({"detail-type": "Scheduled Event", "time": time}, None)


def players(**scores):
    return [{"username": name, "rating": 1500, "score": score} for name, score in scores.items()]


def scores(response):
    assert response["statusCode"] == 200, response
    return {p["username"]: p["score"] for p in body(response)["players"]}


# --- the bot's token ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ""},
        {"authorization": TOKEN},  # no scheme
        {"authorization": f"Bearer {TOKEN}"},
        {"authorization": f"Basic {TOKEN[:-1]}x"},  # same length, last character wrong
        {"authorization": f"Basic {TOKEN} "},
        {"authorization": "Basic ünïcödé"},
    ],
)
def test_the_bot_routes_refuse_anything_but_the_token(on, site, headers):
    before = table_snapshot(on)
    for response in (post_tournament(ARENA_URL, headers), post_standings(players(a=1), headers)):
        assert response["statusCode"] == 401
        assert body(response) == {"code": 401, "message": "Authorization header is invalid"}
    assert table_snapshot(on) == before
    assert not site.calls  # refused before the site is asked


def test_a_jwt_is_not_the_bots_token(on, site):
    event = http_event("POST /tournaments/leaderboard", caller="alice", body={})
    assert update_leaderboard.handler(event, None)["statusCode"] == 401


# --- POST /tournaments --------------------------------------------------------------------


def test_a_lichess_arena_becomes_a_club_tournament(on, site):
    site.get(f"{LICHESS}/api/tournament/Qa1Bc2De", json=ARENA)
    response = post_tournament(ARENA_URL)
    assert response["statusCode"] == 200
    assert body(response) == {
        "id": "Qa1Bc2De",
        "title": "Dojo Blitz Arena",
        "startTime": "2030-01-02T18:00:00.000Z",
        "endTime": "2030-01-02T19:00:00.000Z",
        "location": ARENA_URL,
        "description": "The club's weekly arena",
        "site": "LICHESS",
        "type": "ARENA",
        "timeControlType": "BLITZ",
        "limitSeconds": 180,
        "incrementSeconds": 2,
        "rated": True,
    }
    listed = list_tournaments.handler(
        http_event(
            "GET /public/tournaments", caller=None, query={"startTime": "2030-01-01T00:00:00Z"}
        ),
        None,
    )
    assert body(listed) == {"tournaments": [body(response)]}
    [item] = [i for i in on.scan(TableName="test-tournaments")["Items"]]
    # Kept a week after it ends (TTL).
    end = datetime(2030, 1, 2, 19, tzinfo=UTC)
    assert int(item["expirationTime"]["N"]) == int((end + timedelta(days=7)).timestamp())


def test_a_lichess_swiss(on, site):
    site.get(f"{LICHESS}/api/swiss/Sw1ss234", json={**SWISS, "position": {"fen": "8/8 w - - 0 1"}})
    tournament = body(post_tournament(SWISS_URL))
    assert tournament["startTime"] == "2030-01-03T18:00:00.000Z"  # +01:00 read as an instant
    assert tournament["type"] == "SWISS" and tournament["numRounds"] == 4
    assert tournament["timeControlType"] == "RAPID"  # 15+5: Lichess's estimate, 1100 s
    assert tournament["fen"] == "8/8 w - - 0 1"
    assert tournament["endTime"] > tournament["startTime"]


@pytest.mark.parametrize(
    ("url", "answer", "expected"),
    [
        (
            "https://www.chess.com/tournament/live/dojo-classical-swiss-3960221",
            CHESSCOM_SWISS,
            {
                "id": "dojo-classical-swiss-3960221",
                "type": "SWISS",
                "timeControlType": "RAPID",
                "limitSeconds": 1800,
                "incrementSeconds": 10,
                "numRounds": 5,
                "startTime": "2030-01-04T18:00:00.000Z",
                "endTime": "2030-01-04T19:00:00.000Z",
                "description": "Swiss tournament on Chess.com",
            },
        ),
        (
            "https://www.chess.com/tournament/live/arena/dojo-blitz-arena-3960222",
            CHESSCOM_ARENA,
            {
                "id": "dojo-blitz-arena-3960222",
                "type": "ARENA",
                "timeControlType": "BLITZ",
                "startTime": "2030-01-04T19:00:00.000Z",
                "endTime": "2030-01-04T20:00:00.000Z",
            },
        ),
    ],
)
def test_chesscom_tournaments(on, site, url, answer, expected):
    site.get(f"{CHESSCOM}/pub/tournament/{expected['id']}", json=answer)
    tournament = body(post_tournament(url))
    assert tournament["site"] == "CHESSCOM" and tournament["location"] == url
    assert tournament.items() >= expected.items()


def test_the_same_url_twice_is_one_tournament(on, site):
    site.get(f"{LICHESS}/api/tournament/Qa1Bc2De", json=ARENA)
    first = post_tournament(ARENA_URL)
    site.replace(responses.GET, f"{LICHESS}/api/tournament/Qa1Bc2De", json={**ARENA, "minutes": 90})
    second = post_tournament(ARENA_URL)
    assert second["statusCode"] == 200 and body(second) == body(first)
    assert on.scan(TableName="test-tournaments")["Count"] == 1


def test_the_same_url_posted_at_once_is_one_tournament(on, site):
    site.get(f"{LICHESS}/api/tournament/Qa1Bc2De", json=ARENA)
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(post_tournament(ARENA_URL)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a["statusCode"] for a in answers] == [200] * 4
    assert on.scan(TableName="test-tournaments")["Count"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://lichess.org/tournament/",
        "https://lichess.org/tournament/short",
        "https://lichess.org/tournament/Qa1Bc2De/extra",
        "https://lichess.org/tournament/Qa1Bc2De?x=1",
        "http://lichess.org/tournament/Qa1Bc2De",
        "https://lichess.org.evil.example/tournament/Qa1Bc2De",
        "https://lichess.org:8443/tournament/Qa1Bc2De",
        "https://lichess.org/study/Qa1Bc2De",
        "https://www.chess.com/tournament/live/arena/",
        "https://www.chess.com/tournament/live/",
        "https://www.chess.com/play/online",
        "https://www.chess.com/tournament/live/dojo/../../x",
        "https://chess24.com/en/watch/tournament",
        "not a url",
        "",
        42,
        None,
    ],
)
def test_malformed_or_unknown_urls_are_400_and_ask_no_site(on, site, url):
    before = table_snapshot(on)
    response = post_tournament(url)
    assert response["statusCode"] == 400
    assert body(response)["message"]
    assert not site.calls
    assert table_snapshot(on) == before


def test_a_tournament_the_site_does_not_have_is_400(on, site):
    site.get(f"{LICHESS}/api/swiss/Sw1ss234", status=404, json={"error": "Not found"})
    response = post_tournament(SWISS_URL)
    assert response["statusCode"] == 400
    assert "Sw1ss234" in body(response)["message"]


def test_a_chesscom_tournament_that_is_not_arena_or_swiss_is_400(on, site):
    knockout = {**CHESSCOM_SWISS, "settings": {**CHESSCOM_SWISS["settings"], "type": "standard"}}
    site.get(f"{CHESSCOM}/pub/tournament/dojo-knockout-1", json=knockout)
    response = post_tournament("https://www.chess.com/tournament/live/dojo-knockout-1")
    assert response["statusCode"] == 400


def test_a_daily_chesscom_tournament_is_400(on, site):
    settings = {**CHESSCOM_SWISS["settings"], "time_class": "daily", "time_control": "1/86400"}
    daily = {**CHESSCOM_SWISS, "settings": settings}
    site.get(f"{CHESSCOM}/pub/tournament/dojo-daily-1", json=daily)
    response = post_tournament("https://www.chess.com/tournament/live/dojo-daily-1")
    assert response["statusCode"] == 400 and "daily" in body(response)["message"]


def test_a_bullet_arena_is_400(on, site):
    bullet = {**ARENA, "perf": {"key": "bullet"}, "clock": {"limit": 60, "increment": 0}}
    site.get(f"{LICHESS}/api/tournament/Qa1Bc2De", json=bullet)
    response = post_tournament(ARENA_URL)
    assert response["statusCode"] == 400 and "bullet" in body(response)["message"]


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "json": {"error": "oops"}},
        {"status": 429, "json": {"error": "Too many requests"}},
        {"status": 200, "body": "<html>maintenance</html>"},
        {"status": 200, "json": {"id": "Qa1Bc2De"}},  # not a tournament this code can read
        {"body": requests.ConnectionError("refused")},
        {"body": requests.Timeout("read timed out")},
    ],
)
def test_the_site_down_is_503_and_stores_nothing(on, site, failure):
    before = table_snapshot(on)
    site.get(f"{LICHESS}/api/tournament/Qa1Bc2De", **failure)
    response = post_tournament(ARENA_URL)
    assert response["statusCode"] == 503
    assert body(response) == {"code": 503, "message": "Temporary server error"}
    assert table_snapshot(on) == before


def test_the_sites_are_read_with_timeouts(on, site):
    site.get(f"{LICHESS}/api/tournament/Qa1Bc2De", json=ARENA)
    post_tournament(ARENA_URL)
    assert site.calls[0].request.req_kwargs["timeout"] == sites.TIMEOUT


# --- leaderboards -------------------------------------------------------------------------


def test_standings_replace_the_month_and_add_their_change_to_the_year(on):
    assert post_standings(players(anna=3, ben=1))["statusCode"] == 200
    assert post_standings(players(anna=5, ben=1, cleo=2.5))["statusCode"] == 200
    assert scores(leaderboard()) == {"anna": 5, "cleo": 2.5, "ben": 1}
    assert list(scores(leaderboard())) == ["anna", "cleo", "ben"]  # best first
    assert scores(leaderboard("yearly")) == {"anna": 5, "cleo": 2.5, "ben": 1}
    current = body(leaderboard("yearly"))
    assert {k: v for k, v in current.items() if k != "players"} == {
        "site": "lichess",
        "type": "ARENA",
        "timeControl": "BLITZ",
        "timePeriod": "yearly",
        "startsAt": "CURRENT",
    }
    # Other boards are their own.
    assert post_standings(players(anna=1), site="chesscom")["statusCode"] == 200
    assert scores(leaderboard(site="chesscom")) == {"anna": 1}
    assert scores(leaderboard()) == {"anna": 5, "cleo": 2.5, "ben": 1}


def test_no_leaderboard_is_404(on):
    response = leaderboard(tournamentType="SWISS")
    assert response["statusCode"] == 404
    assert leaderboard(date="2001-05-01T00:00:00Z")["statusCode"] == 404


@pytest.mark.parametrize(
    "change",
    [
        {"site": "chess.com"},
        {"type": "Arena Total"},
        {"timeControl": "BULLET"},
        {"players": [{"username": "", "rating": 1, "score": 1}]},
        {"players": [{"username": "a", "rating": "high", "score": 1}]},
        {"players": [{"username": "a", "rating": 1500}]},
        {"players": [{"username": "a", "rating": 1, "score": 1}] * 2},
        {"players": "anna"},
    ],
)
def test_bad_standings_are_400_and_change_nothing(on, change):
    post_standings(players(anna=3))
    before = table_snapshot(on)
    response = post_standings(**{"players": players(anna=9), **change})
    assert response["statusCode"] == 400, response
    assert table_snapshot(on) == before


@pytest.mark.parametrize(
    "query",
    [
        {"timePeriod": "weekly"},
        {"site": "chess24"},
        {"tournamentType": ""},
        {"timeControl": "bullet"},
        {"date": "yesterday"},
    ],
)
def test_bad_leaderboard_queries_are_400(on, query):
    assert leaderboard(**query)["statusCode"] == 400


def test_concurrent_updates_never_lose_one(atomic_moto, on):
    """As many bots as the update's attempts post at once, each a player of its own: each loses
    at most once to each other one and retries, so all succeed, and the year has them all."""
    count = store.UPDATE_ATTEMPTS
    barrier = threading.Barrier(count)
    answers = []

    def post(index):
        barrier.wait()
        answers.append(post_standings(players(**{f"p{index}": index + 1})))

    threads = [threading.Thread(target=post, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a["statusCode"] for a in answers] == [200] * count
    assert scores(leaderboard("yearly")) == {f"p{i}": i + 1 for i in range(count)}
    assert len(scores(leaderboard())) == 1  # the month is the last one written


def test_a_lost_race_is_retried_on_fresh_reads(on, monkeypatch):
    """Between the reads and the transaction another update commits: the transaction fails its
    condition, the update reads again, and the other update's change is kept."""
    post_standings(players(anna=1))
    original = store._get
    raced = []

    def get_then_race(board, starts_at, consistent=False):
        item = original(board, starts_at, consistent)
        if board.period == store.YEARLY and not raced:
            raced.append(True)
            store.update_standings("lichess", "ARENA", "BLITZ", post_body(anna=4))
        return item

    def post_body(**given):
        return [store.Standing(n, 1500, store.Decimal(str(s))) for n, s in given.items()]

    monkeypatch.setattr(store, "_get", get_then_race)
    # ben joins the month; anna's 4 (the racing update) stays.
    assert post_standings(players(anna=4, ben=2))["statusCode"] == 200
    monkeypatch.setattr(store, "_get", original)
    assert raced
    assert scores(leaderboard("yearly")) == {"anna": 4, "ben": 2}


# --- the monthly job -----------------------------------------------------------------------


def month_start(months_ago=0):
    today = datetime.now(UTC)
    year, month = today.year, today.month - months_ago
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=UTC)


def iso(instant):
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_job_snapshots_the_month_empties_it_and_resets_the_bot(on, bot_db):
    bot_db.players.insert_many(
        [
            {"discord_id": 1, "lichess": "anna", "blitz_score": 12, "blitz_score_swiss": 2.5},
            {"discord_id": 2, "lichess": "ben", "sp_score": 3, "eg_score": 1},
        ]
    )
    bot_db["chesscom-players"].insert_one({"chesscom": "cleo", "rapid_comb_total_gp": 7})
    post_standings(players(anna=3, ben=1))
    # The job of this month's first instant closes last month.
    now = month_start()
    closed = month_start(1)
    result = run_job(iso(now))
    assert result["reset"] == {"players": 2, "chesscom-players": 1}
    assert len(result["snapshots"]) == 1 + (now.month == 1)  # the year too in January

    last_month = iso(closed + timedelta(days=3))
    assert scores(leaderboard(date=last_month)) == {"anna": 3, "ben": 1}
    assert body(leaderboard(date=last_month))["startsAt"] == f"{closed:%Y-%m}"
    assert scores(leaderboard()) == {}  # the current month starts empty
    assert scores(leaderboard("yearly")) == ({} if now.month == 1 else {"anna": 3, "ben": 1})

    for document in [*bot_db.players.find(), *bot_db["chesscom-players"].find()]:
        assert {name: document[name] for name in mongo.RESET} == mongo.RESET
        assert isinstance(document["blitz_score_swiss"], float)
    assert bot_db.players.find_one({"discord_id": 1})["lichess"] == "anna"  # the rest stays


def test_a_rerun_overwrites_nothing_and_resets_once(on, bot_db):
    post_standings(players(anna=3))
    now = month_start()
    run_job(iso(now))
    bot_db.players.insert_one({"lichess": "late", "blitz_score": 4})
    post_standings(players(anna=1))  # this month's first standings
    before = table_snapshot(on)
    again = run_job(iso(now + timedelta(hours=2)))
    assert again == {"snapshots": [], "reset": "done before"}
    assert table_snapshot(on) == before
    assert bot_db.players.find_one({"lichess": "late"})["blitz_score"] == 4
    assert scores(leaderboard()) == {"anna": 1}


def test_on_the_first_of_january_the_year_is_snapshot_too(on, bot_db):
    post_standings(players(anna=3))
    post_standings(players(anna=2, ben=5), timeControl="RAPID")
    result = run_job("2031-01-01T00:00:00Z")
    boards = sorted(result["snapshots"])
    assert boards == [
        "LEADERBOARD#lichess#MONTHLY#ARENA#BLITZ@2030-12",
        "LEADERBOARD#lichess#MONTHLY#ARENA#RAPID@2030-12",
        "LEADERBOARD#lichess#YEARLY#ARENA#BLITZ@2030",
        "LEADERBOARD#lichess#YEARLY#ARENA#RAPID@2030",
    ]
    past = store.get_leaderboard(store.Board("lichess", "YEARLY", "ARENA", "RAPID"), "2030")
    assert [(p.username, p.score) for p in past] == [("ben", 5), ("anna", 2)]


def test_mongo_down_keeps_the_snapshot_and_a_retry_redoes_only_the_reset(on, bot_db, mongo_server):
    bot_db.players.insert_one({"lichess": "anna", "blitz_score": 12})
    post_standings(players(anna=3))
    now = month_start()
    mongo_server.down = True
    with pytest.raises(Exception, match="MongoDB reset failed"):
        run_job(iso(now))
    mongo_server.down = False
    closed = month_start(1)
    snapshot_now = store.get_leaderboard(
        store.Board("lichess", "MONTHLY", "ARENA", "BLITZ"), f"{closed:%Y-%m}"
    )
    assert [p.username for p in snapshot_now] == ["anna"]
    assert not store.reset_done(f"{closed:%Y-%m}")
    assert bot_db.players.find_one({})["blitz_score"] == 12

    retry = run_job(iso(now + timedelta(minutes=1)))
    assert retry["snapshots"] == []
    assert retry["reset"] == {"players": 1, "chesscom-players": 0}
    assert bot_db.players.find_one({})["blitz_score"] == 0
    assert store.reset_done(f"{closed:%Y-%m}")


# --- the monthly job: MongoDB timing out ------------------------------------------------------


class StallingMongo(MongoStandIn):
    """The stand-in, answering the handshake and everything else, but never the updates of the
    collections in `stalled`: a server that stops answering in the middle of the reset."""

    def __init__(self, stalled: set[str]):
        super().__init__()
        self.stalled = stalled
        self.resume = threading.Event()

    def _command(self, command: dict, database: str, connection_id: int) -> dict:
        name = next(iter(command), "")
        if name == "update" and command[name] in self.stalled:
            self.resume.wait()  # long after pymongo gave up on this connection
            return {"ok": 0.0, "errmsg": "too late", "code": 50, "codeName": "MaxTimeMSExpired"}
        return super()._command(command, database, connection_id)

    def stop(self) -> None:
        self.resume.set()
        super().stop()


def bot_secret_names(url):
    """The tournament secret, now holding `url` as the bot's MongoDB (a rotated value)."""
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=SECRET_NAME,
        SecretString=json.dumps({"botAccessToken": TOKEN, "mongoConnectionString": url}),
    )
    clear_caches()


def run_job_until_it_fails(now):
    """The job's invocation: it must raise (Lambda's retry of a failed scheduled invocation)
    and not run into the function's timeout (serverless.yml: 90 s)."""
    started = time.monotonic()
    with pytest.raises(Unavailable, match="MongoDB reset failed"):
        run_job(iso(now))
    return time.monotonic() - started


def assert_snapshots_made_and_reset_pending(month):
    """Every snapshot of the closed month whole (copied, its current leaderboard emptied, in one
    transaction each) and the reset not marked done: what the retry starts from."""
    board = store.Board("lichess", "MONTHLY", "ARENA", "BLITZ")
    assert [p.username for p in store.get_leaderboard(board, month)] == ["anna"]
    assert store.get_leaderboard(board, store.CURRENT) == []
    assert not store.reset_done(month)


def test_mongo_never_answering_fails_the_job_after_the_snapshots_and_a_retry_resets(
    on, bot_db, mongo_server
):
    """A server that accepts connections and never answers (not even the handshake): pymongo's
    serverSelectionTimeoutMS ends the reset before anything is sent."""
    bot_db.players.insert_one({"lichess": "anna", "blitz_score": 12})
    post_standings(players(anna=3))
    now, month = month_start(), f"{month_start(1):%Y-%m}"
    with SilentServer() as hung:
        bot_secret_names(f"mongodb://{hung.address}/?directConnection=true")
        elapsed = run_job_until_it_fails(now)
        assert hung.connections  # reached, and never answered
    assert elapsed < mongo.TIMEOUTS_MS["serverSelectionTimeoutMS"] / 1000 + 5
    assert_snapshots_made_and_reset_pending(month)
    assert bot_db.players.find_one({})["blitz_score"] == 12
    before = table_snapshot(on)

    bot_secret_names(mongo_server.url)  # MongoDB answers again
    retry = run_job(iso(now + timedelta(minutes=1)))
    assert retry == {"snapshots": [], "reset": {"players": 1, "chesscom-players": 0}}
    assert bot_db.players.find_one({})["blitz_score"] == 0
    after = table_snapshot(on)["test-tournaments"]
    # The retry added the month's marker and changed no leaderboard.
    assert [item for item in after if item["pk"] != {"S": store.RESET}] == before[
        "test-tournaments"
    ]
    assert store.reset_done(month)


def test_mongo_timing_out_mid_reset_fails_the_job_and_a_retry_finishes_the_reset(on, monkeypatch):
    """The server answers the handshake and the first collection's update, then never answers
    the second: pymongo's socketTimeoutMS ends the call. The scores of the first collection are
    reset, of the second not; the reset is not marked done, so the retry redoes it whole (setting
    a score to 0 twice changes nothing)."""
    monkeypatch.setitem(mongo.TIMEOUTS_MS, "socketTimeoutMS", 500)
    server = StallingMongo(stalled={"chesscom-players"})
    try:
        bot = server.client[mongo.DATABASE]
        bot.players.insert_one({"lichess": "anna", "blitz_score": 12})
        bot["chesscom-players"].insert_one({"chesscom": "cleo", "rapid_comb_total_gp": 7})
        post_standings(players(anna=3))
        now, month = month_start(), f"{month_start(1):%Y-%m}"
        bot_secret_names(server.url)

        elapsed = run_job_until_it_fails(now)

        assert elapsed < mongo.TIMEOUTS_MS["socketTimeoutMS"] / 1000 + 5
        assert_snapshots_made_and_reset_pending(month)
        assert bot.players.find_one({})["blitz_score"] == 0
        assert bot["chesscom-players"].find_one({})["rapid_comb_total_gp"] == 7

        server.stalled.clear()  # MongoDB answers again
        retry = run_job(iso(now + timedelta(minutes=1)))
        assert retry == {"snapshots": [], "reset": {"players": 1, "chesscom-players": 1}}
        assert bot["chesscom-players"].find_one({})["rapid_comb_total_gp"] == 0
        assert bot.players.find_one({})["lichess"] == "anna"
        assert store.reset_done(month)
        assert run_job(iso(now + timedelta(minutes=2)))["reset"] == "done before"
    finally:
        server.stop()


def test_mongos_timeouts_end_the_reset_within_the_functions_timeout():
    """Each UpdateMany: at most server selection, connecting and the socket timeout; both
    collections well within serverless.yml's timeout, leaving time for the DynamoDB calls: a
    MongoDB that hangs fails the invocation (retried) instead of timing the function out."""
    function = SERVICE.document["functions"]["snapshotLeaderboards"]
    per_update = sum(mongo.TIMEOUTS_MS.values()) / 1000  # selection, a new connection, the call
    assert len(mongo.COLLECTIONS) * per_update <= function["timeout"] - 30


@pytest.mark.parametrize(
    ("at", "closed"),
    [
        ("2030-03-01T00:00:00Z", {"MONTHLY": "2030-02"}),
        ("2030-03-01T05:00:00+07:00", {"MONTHLY": "2030-01"}),  # still February in UTC
        ("2031-01-01T00:00:00Z", {"MONTHLY": "2030-12", "YEARLY": "2030"}),
        ("2030-07-15T12:00:00Z", {"MONTHLY": "2030-06"}),
    ],
)
def test_what_a_run_closes(at, closed):
    assert store.closed_by(parse_time(at)) == closed


@pytest.mark.parametrize(
    ("period", "date", "expected"),
    [
        ("MONTHLY", "2030-05-31T23:59:59Z", "CURRENT"),
        ("MONTHLY", "2030-04-30T23:59:59Z", "2030-04"),
        ("MONTHLY", "2029-05-02T00:00:00Z", "2029-05"),
        ("YEARLY", "2030-01-01T00:00:00Z", "CURRENT"),
        ("YEARLY", "2029-12-31T23:59:59Z", "2029"),
    ],
)
def test_which_leaderboard_a_date_reads(period, date, expected):
    today = parse_time("2030-05-15T10:00:00Z")
    assert store.starts_at(period, parse_time(date), today) == expected


def test_a_malformed_connection_string_fails_the_reset_as_unavailable(monkeypatch):
    # pymongo reads a string without a scheme as a host name: the reset fails when no server
    # is found, after serverSelectionTimeoutMS (as in `on`, a second, not the function's 5).
    monkeypatch.setitem(mongo.TIMEOUTS_MS, "serverSelectionTimeoutMS", 1000)
    mongo.client.cache_clear()
    with pytest.raises(Unavailable):
        mongo.reset_scores("not-a-mongodb-url")
    mongo.client.cache_clear()


def test_the_snapshot_never_overwrites_an_existing_one(on, bot_db):
    board = store.Board("lichess", "MONTHLY", "ARENA", "BLITZ")
    post_standings(players(anna=3))
    on.put_item(
        TableName="test-tournaments",
        Item={**board.key("2030-04"), "players": {"L": []}, "version": {"N": "1"}},
    )
    assert run_job("2030-05-01T00:00:00Z")["snapshots"] == []
    assert store.get_leaderboard(board, "2030-04") == []
    assert [p.username for p in store.get_leaderboard(board, "CURRENT")] == ["anna"]


@pytest.mark.skipif(not os.environ.get("MONGO_URL"), reason="MONGO_URL names no real server")
def test_the_reset_against_a_real_server():
    url = os.environ["MONGO_URL"]
    database = pymongo.MongoClient(url, serverSelectionTimeoutMS=3000)[mongo.DATABASE]
    database.players.insert_one({"test": "dojo-scheduler", "blitz_score": 5, "keep": 1})
    try:
        mongo.client.cache_clear()
        mongo.reset_scores(url)
        document = database.players.find_one({"test": "dojo-scheduler"})
        assert document["blitz_score"] == 0 and document["keep"] == 1
    finally:
        database.players.delete_many({"test": "dojo-scheduler"})


# --- GET /calendar ---------------------------------------------------------------------------


def test_the_calendar_lists_the_clubs_tournaments_on_its_first_page(on, site):
    site.get(f"{LICHESS}/api/tournament/Qa1Bc2De", json=ARENA)
    site.get(f"{LICHESS}/api/swiss/Sw1ss234", json=SWISS)
    post_tournament(ARENA_URL)
    post_tournament(SWISS_URL)
    query = {"startTime": "2030-01-03T00:00:00Z"}
    page = body(get_calendar.handler(http_event("GET /calendar", query=query), None))
    assert [t["id"] for t in page["tournaments"]] == ["Sw1ss234"]  # from startTime on
    query = {"startTime": "2030-01-01T00:00:00Z"}
    page = body(get_calendar.handler(http_event("GET /calendar", query=query), None))
    assert [t["id"] for t in page["tournaments"]] == ["Qa1Bc2De", "Sw1ss234"]


def test_without_tournaments_the_calendar_lists_none(tables, monkeypatch):
    monkeypatch.delenv("TOURNAMENTS_TABLE", raising=False)
    page = body(get_calendar.handler(http_event("GET /calendar"), None))
    assert page["tournaments"] == []


def test_tournaments_add_one_read_beside_the_calendars_others(on, site, monkeypatch):
    """With tournaments on, the calendar reads them with one Query made at the same time as its
    own parts: one call more, the same critical path (tests/handlers/test_round_trips.py)."""
    site.get(f"{LICHESS}/api/tournament/Qa1Bc2De", json=ARENA)
    post_tournament(ARENA_URL)
    counted = RoundTrips().install(on, monkeypatch)
    page = body(get_calendar.handler(http_event("GET /calendar", caller="carol"), None))
    assert [t["id"] for t in page["tournaments"]] == ["Qa1Bc2De"]
    # the caller's cohort, then its five parts; the tournaments at the same time
    assert sorted(counted.calls) == ["GetItem"] + ["Query"] * 6
    assert counted.critical_path == 2  # carol joined nothing: no BatchGetItem after the parts

    counted.reset()
    assert post_standings(players(anna=1))["statusCode"] == 200
    assert counted.calls == ["GetItem", "GetItem", "TransactWriteItems"]
    assert counted.critical_path == 2  # the two reads at once, then the transaction
