"""`make run` with TOURNAMENTS=1, end to end over HTTP: the bot's three calls with its token, a
member's calendar, the public leaderboard, and the monthly job run through
`POST /_local/schedule/snapshotLeaderboards`, which resets the bot's MongoDB (the stand-in, or
the real server MONGO_URL names)."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from local_stack import Stack, running_stack

TOKEN = "local-bot-token-42"
BOT = {"Authorization": f"Basic {TOKEN}"}
START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
ARENA = {  # as Lichess's GET /api/tournament/{id} answers
    "id": "LoCaL123",
    "createdBy": "dojo-sensei",
    "startsAt": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "system": "arena",
    "fullName": "Dojo Rapid Arena",
    "minutes": 90,
    "perf": {"key": "rapid", "name": "Rapid", "icon": "#"},
    "clock": {"limit": 600, "increment": 0},
    "variant": "standard",
    "rated": True,
    "nbPlayers": 0,
}
CHESSCOM_SWISS = {  # as Chess.com's GET /pub/tournament/{url-ID} answers
    "name": "Dojo Swiss",
    "url": "https://www.chess.com/tournament/live/dojo-swiss-77",
    "creator": "dojosensei",
    "status": "registration",
    "start_time": int((START + timedelta(days=1)).timestamp()),
    "settings": {
        "type": "swiss",
        "rules": "chess",
        "time_class": "blitz",
        "time_control": "300+2",
        "is_rated": True,
        "total_rounds": 6,
    },
    "players": [],
    "rounds": [],
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {"TOURNAMENTS": "1", "BOT_ACCESS_TOKEN": TOKEN}
    with running_stack(tmp_path_factory.mktemp("local-tournaments"), env) as started:
        yield started


def test_the_bots_calls_the_calendar_and_the_monthly_job(stack: Stack):
    output = stack.output.read_text()
    assert TOKEN in output and "MongoDB" in output  # printed at start

    # The bot posts tournaments; the sites are the stand-ins, told what to answer.
    assert stack.call("PUT", "/_local/lichess/arena/LoCaL123", body=ARENA)[0] == 200
    assert stack.call("PUT", "/_local/chesscom/dojo-swiss-77", body=CHESSCOM_SWISS)[0] == 200
    url = "https://lichess.org/tournament/LoCaL123"
    assert stack.call("POST", "/tournaments", body={"url": url})[0] == 401  # no token
    wrong = {"Authorization": "Basic not-the-token"}
    assert stack.call("POST", "/tournaments", body={"url": url}, headers=wrong)[0] == 401
    status, _, arena = stack.call("POST", "/tournaments", body={"url": url}, headers=BOT)
    assert status == 200, arena
    assert arena["timeControlType"] == "RAPID" and arena["location"] == url
    assert stack.call("POST", "/tournaments", body={"url": url}, headers=BOT)[2] == arena
    swiss_url = "https://www.chess.com/tournament/live/dojo-swiss-77"
    status, _, swiss = stack.call("POST", "/tournaments", body={"url": swiss_url}, headers=BOT)
    assert status == 200 and swiss["numRounds"] == 6, swiss
    missing = "https://lichess.org/swiss/NoSuch12"
    assert stack.call("POST", "/tournaments", body={"url": missing}, headers=BOT)[0] == 400
    assert stack.call("PUT", "/_local/lichess/_outage", body={"down": True})[0] == 200
    other = "https://lichess.org/tournament/Other123"
    assert stack.call("POST", "/tournaments", body={"url": other}, headers=BOT)[0] == 503
    stack.call("PUT", "/_local/lichess/_outage", body={"down": False})

    # Anyone sees them; a member sees them on the calendar.
    status, _, listed = stack.call("GET", "/public/tournaments")
    assert status == 200 and [t["id"] for t in listed["tournaments"]] == [
        "LoCaL123",
        "dojo-swiss-77",
    ]
    token = stack.sign_up_and_in("tina")["IdToken"]
    status, _, calendar = stack.call("GET", "/calendar", token=token)
    assert status == 200 and calendar["tournaments"] == listed["tournaments"]

    # The bot posts standings twice; anyone reads them.
    standings = {"site": "lichess", "type": "ARENA", "timeControl": "RAPID"}
    first = [{"username": "anna", "rating": 1500, "score": 4}]
    second = [*first, {"username": "ben", "rating": 1400, "score": 2.5}]
    for players in (first, second):
        body = {**standings, "players": players}
        status, _, answer = stack.call("POST", "/tournaments/leaderboard", body=body, headers=BOT)
        assert status == 200, answer
    assert stack.call("POST", "/tournaments/leaderboard", body=body)[0] == 401
    now = datetime.now(UTC)
    query = "site=lichess&tournamentType=ARENA&timeControl=RAPID&date=" + now.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    monthly = "/public/tournaments/leaderboard?timePeriod=monthly"
    status, _, month = stack.call("GET", f"{monthly}&{query}")
    assert status == 200 and month["startsAt"] == "CURRENT"
    assert [(p["username"], p["score"]) for p in month["players"]] == [("anna", 4), ("ben", 2.5)]

    # The bot's MongoDB, then the monthly job as it runs at the first instant of this month:
    # it closes last month (with the standings posted above).
    players = [
        {"discord": "anna#1", "lichess": "anna", "rapid_score": 4, "rapid_score_swiss": 1.5},
        {"discord": "ben#2", "lichess": "ben", "sp_score": 3},
    ]
    collection = "/_local/mongo/Lisebot-database/players"
    assert stack.call("PUT", collection, body=players)[0] == 200
    this_month = now.replace(day=1, hour=0, minute=0, second=0)
    last_month = this_month - timedelta(days=1)
    job = "/_local/schedule/snapshotLeaderboards"
    status, _, ran = stack.call("POST", job, body={"time": this_month.isoformat()})
    assert status == 200, ran
    assert ran["result"]["reset"]["players"] >= 2
    status, _, stored = stack.call("GET", collection)
    mine = [d for d in stored["documents"] if d.get("discord") in ("anna#1", "ben#2")]
    assert len(mine) == 2
    for document in mine:
        assert document["rapid_score"] == 0 and document["sp_score"] == 0
        assert document["rapid_score_swiss"] == 0.0 and document["lichess"]

    # The closed month is a snapshot, found by a date in it; the current one starts empty.
    date = last_month.strftime("%Y-%m-%dT%H:%M:%SZ")
    board = "site=lichess&tournamentType=ARENA&timeControl=RAPID"
    status, _, closed = stack.call("GET", f"{monthly}&{board}&date={date}")
    assert status == 200 and closed["startsAt"] == f"{last_month:%Y-%m}"
    assert closed["players"] == month["players"]
    status, _, current = stack.call("GET", f"{monthly}&{query}")
    assert status == 200 and current["players"] == []
    # A re-run changes nothing more.
    status, _, again = stack.call("POST", job, body={"time": this_month.isoformat()})
    assert again["result"] == {"snapshots": [], "reset": "done before"}


@pytest.mark.skipif(bool(os.environ.get("MONGO_URL")), reason="MONGO_URL: a real server")
def test_the_stand_in_mongo_can_be_down(stack: Stack):
    assert stack.call("PUT", "/_local/mongo/_outage", body={"down": True})[2] == {"down": True}
    assert stack.call("PUT", "/_local/mongo/_outage", body={"down": False})[2] == {"down": False}
