"""The stage's tournament settings, from the function's environment.

Tournaments are on where the name of the Secrets Manager secret holding the bot's token and
MongoDB connection string is set (serverless.yml sets it on the stages whose tournament.yml has
values; `make run` with TOURNAMENTS=1). The name is not a secret; the values are read at run
time (tournaments.secret). Standard library only.
"""

import os

TOURNAMENTS_OFF = "Tournaments are off on this stage"

# The sites' public APIs; `make run` points them at its stand-ins.
LICHESS = "https://lichess.org"
CHESSCOM = "https://api.chess.com"


def secret_name() -> str:
    return os.environ.get("TOURNAMENT_SECRET_NAME", "")


def lichess_api() -> str:
    return (os.environ.get("LICHESS_API_URL") or LICHESS).rstrip("/")


def chesscom_api() -> str:
    return (os.environ.get("CHESSCOM_API_URL") or CHESSCOM).rstrip("/")
