"""The monthly reset of the scores in the club bot's MongoDB (database `Lisebot-database`,
collections `players` and `chesscom-players`): every player's score fields set to 0, the rest of
each document left as it is.

pymongo, imported by the snapshotLeaderboards function only (tests/infra/test_imports.py). One
MongoClient per container and connection string (it owns a connection pool and monitors the
server; opening one per call, as the original did, pays the handshake every time), with explicit
timeouts well within the function's: a server that is down or slow fails the invocation, and
the job's retry redoes the reset only (handlers/tournaments/snapshot.py).
"""

import functools
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from database.errors import Unavailable

DATABASE = "Lisebot-database"
COLLECTIONS = ("players", "chesscom-players")
# The original's field list and values (the Swiss scores are doubles there).
RESET = {
    "blitz_score": 0,
    "rapid_score": 0,
    "classical_score": 0,
    "blitz_score_gp": 0,
    "rapid_score_gp": 0,
    "classical_score_gp": 0,
    "blitz_score_swiss": 0.0,
    "rapid_score_swiss": 0.0,
    "classical_score_swiss": 0.0,
    "blitz_score_swiss_gp": 0,
    "rapid_score_swiss_gp": 0,
    "classical_score_swiss_gp": 0,
    "blitz_comb_total": 0,
    "rapid_comb_total": 0,
    "classical_comb_total": 0,
    "blitz_comb_total_gp": 0,
    "rapid_comb_total_gp": 0,
    "classical_comb_total_gp": 0,
    "sp_score": 0,
    "eg_score": 0,
}
TIMEOUTS_MS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 5000,
    "connectTimeoutMS": 3000,
    "socketTimeoutMS": 20000,  # an UpdateMany over every player
}


@functools.cache
def client(connection_string: str) -> MongoClient:
    return MongoClient(connection_string, appname="dojo-scheduler", **TIMEOUTS_MS)


def reset_scores(connection_string: str) -> dict[str, int]:
    """Resets every player's scores in both collections: {collection: documents matched}."""
    matched = {}
    try:
        database = client(connection_string)[DATABASE]  # a malformed string fails here
        for name in COLLECTIONS:
            result = database[name].update_many({}, {"$set": RESET})
            matched[name] = result.matched_count
    except PyMongoError as error:
        raise Unavailable(detail=f"MongoDB reset failed: {error!r}") from error
    return matched
