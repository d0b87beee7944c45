"""Tournaments in `make run`: off unless TOURNAMENTS=1, as on a stage without tournament.yml.

On, the stage's tournament secret is created in the embedded moto exactly as on AWS
(docs/tournaments.md, "Setting up a stage"; local.aws.create_secret): the bot's token
(BOT_ACCESS_TOKEN, or a random one
printed at start) and the MongoDB connection string (MONGO_URL's real server, or the stand-in's,
local/mongo.py). The functions reach Lichess and Chess.com through their stand-ins
(local/lichess.py, local/chesscom.py) by their base-URL settings.
"""

import os
import secrets

from local import aws
from local.mongo import PATH as MONGO_PATH
from local.mongo import LocalMongo
from local.serverless import Service
from local.standins import Context, Started


def requested() -> bool:
    return os.environ.get("TOURNAMENTS", "") not in ("", "0")


def enable(service: Service) -> tuple[str, LocalMongo]:
    """Creates the stage's secret and sets the functions' settings: (bot token, MongoDB)."""
    token = os.environ.get("BOT_ACCESS_TOKEN") or secrets.token_urlsafe(24)
    mongo = LocalMongo(os.environ.get("MONGO_URL"))
    aws.create_secret(
        service, "tournament", {"botAccessToken": token, "mongoConnectionString": mongo.url}
    )
    os.environ["TOURNAMENTS_TABLE"] = service.table_name("TournamentsTable")
    return token, mongo


class BotAndMongo:
    """Their plug (local/standins.py): on with TOURNAMENTS=1; the bot's token and MongoDB
    (MONGO_URL's real server, or the stand-in). The sites' stand-ins are local/lichess.py and
    local/chesscom.py; the console draws MongoDB in the sites' panel."""

    name = "mongo"
    feature = "tournaments"
    panel = None

    def requested(self) -> bool:
        return requested()

    def start(self, context: Context) -> Started:
        token, mongo = enable(context.service)
        return Started(
            routes={MONGO_PATH: (mongo.handle, "MongoDB")},
            banner=[
                ("Bot token", f"{token}  (Authorization: Basic <token>)"),
                ("MongoDB", mongo.describe()),
            ],
            stop=mongo.stop,
        )


STAND_IN = BotAndMongo()
