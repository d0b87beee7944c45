"""The stage's tournament settings, from the function's environment.

Tournaments are on where the name of the Secrets Manager secret holding the bot's token and
MongoDB connection string is set (serverless.yml sets it on the stages whose tournament.yml has
values; `make run` with TOURNAMENTS=1). The name is not a secret; the values are read at run
time (tournaments.secret). Standard library only (and database/settings.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from database.settings import once, text, url

TOURNAMENTS_OFF = "Tournaments are off on this stage"

# The sites' public APIs; `make run` points them at its stand-ins.
LICHESS = "https://lichess.org"
CHESSCOM = "https://api.chess.com"


@dataclass(frozen=True)
class Settings:
    secret_name: str  # TOURNAMENT_SECRET_NAME; "" where tournaments are off
    lichess_api: str  # LICHESS_API_URL, without its trailing slash
    chesscom_api: str  # CHESSCOM_API_URL, without its trailing slash


def read(environ: Mapping[str, str]) -> Settings:
    return Settings(
        secret_name=text(environ, "TOURNAMENT_SECRET_NAME"),
        lichess_api=url(environ, "LICHESS_API_URL", LICHESS),
        chesscom_api=url(environ, "CHESSCOM_API_URL", CHESSCOM),
    )


current = once(read)  # read once per container (database/settings.py)
current()  # at cold start: a bad value fails it


def secret_name() -> str:
    return current().secret_name


def lichess_api() -> str:
    return current().lichess_api


def chesscom_api() -> str:
    return current().chesscom_api
