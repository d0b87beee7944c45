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
from collections.abc import Mapping

from local import aws, chesscom, lichess
from local.mongo import LocalMongo
from local.serverless import Service


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


def site_settings(shell: Mapping[str, str], api_url: str) -> dict[str, str]:
    """The sites' base URLs for the functions: the stand-ins on this stack, unless the shell
    names others (LICHESS_API_URL=https://lichess.org reaches the real site)."""
    return {
        "LICHESS_API_URL": shell.get("LICHESS_API_URL") or api_url + lichess.PATH,
        "CHESSCOM_API_URL": shell.get("CHESSCOM_API_URL") or api_url + chesscom.PATH,
    }
