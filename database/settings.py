"""Settings from the function's environment, read and checked once per container (at its cold
start), and this package's own: the names of its tables. docs/settings.md lists them all.

Each package has one settings object, made by one function from the environment (`once`): a
value that is set but wrong (a fee that is not a number, a table name DynamoDB refuses) fails
the cold start with an InvalidSetting naming the variable. What is required is asked for when
first needed: a table's name when a module that uses it is imported or the table is first
used, so a function needs only the settings it reads (a version 1 function: its three tables).
A required setting that is missing is a MissingSetting naming it; nothing falls back to another
stage's tables. Standard library only: every function loads this.
"""

import functools
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class SettingError(Exception):
    """A deployment mistake: the function's environment lacks a setting or holds a bad one."""


class MissingSetting(SettingError):
    def __init__(self, names: str) -> None:
        super().__init__(f"{names} is not set")


class InvalidSetting(SettingError, ValueError):
    def __init__(self, name: str, rule: str, value: str) -> None:
        super().__init__(f"{name} must be {rule}: {value!r}")


# --- reading one variable (an empty variable is the same as an unset one) ---------------------


def text(environ: Mapping[str, str], name: str, default: str = "") -> str:
    return environ.get(name) or default


def url(environ: Mapping[str, str], name: str, default: str = "") -> str:
    """An http(s) address, without a trailing slash (paths are appended to it)."""
    value = environ.get(name) or default
    if value and not re.fullmatch(r"https?://[^\s/?#]+(/\S*)?", value):
        raise InvalidSetting(name, "an http:// or https:// URL", value)
    return value.rstrip("/")


def whole_number(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    value = environ.get(name)
    if not value:
        return default
    # ASCII digits only: int() would take " 2", "+2", "2_0" and "²"-like digits.
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise InvalidSetting(name, f"a whole number of at least {minimum}", value)
    return int(value)


def number(environ: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """A number from `low` to below `high`."""
    value = environ.get(name)
    if not value:
        return default
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    if not low <= parsed < high:  # also refuses nan and inf
        raise InvalidSetting(name, f"a number from {low:g} to below {high:g}", value)
    return parsed


# --- one object per package, read once per container ------------------------------------------

_LOADED: list[Callable[[], object]] = []


def once(read: Callable[[Mapping[str, str]], T]) -> Callable[[], T]:
    """A function returning `read(os.environ)`, read at its first call only: a Lambda
    container's environment never changes. Each settings module calls it at import (the cold
    start), so a bad value fails there, not in a player's request."""
    loaded = functools.cache(lambda: read(os.environ))
    _LOADED.append(loaded)
    return loaded


def read_again() -> None:
    """For the tests, where one process plays many containers: every settings object is read
    from the environment again at its next use (tests/conftest.py, after monkeypatch.setenv)."""
    for loaded in _LOADED:
        loaded.cache_clear()  # type: ignore[attr-defined]


# --- the tables ---------------------------------------------------------------------------------

# Each table's variable, and its name on a stage (`<stage>-<suffix>`) when the variable is unset.
TABLES = {
    "USERS_TABLE": "users",
    "AVAILABILITIES_TABLE": "availabilities",
    "MEETINGS_TABLE": "meetings",
    "NOTIFICATIONS_TABLE": "notifications",
    "PAYMENTS_TABLE": "payments",
    "STATISTICS_TABLE": "statistics",
    "REMINDERS_TABLE": "reminders",
}
# The characters DynamoDB allows in a table name (and so in a stage's, which starts them); a
# space, quote or slash is a copy-paste mistake. (DynamoDB also wants 3 of them at least.)
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")
_STAGE = re.compile(r"[A-Za-z0-9_.-]{1,200}")


@dataclass(frozen=True)
class Settings:
    stage: str  # serverless.yml's `stage` (the original's variable name); "" where unset
    named: Mapping[str, str]  # the TABLES set by their own variable
    # Only on stages with tournaments, and never named after the stage: "" means they are off.
    tournaments_table: str
    # Lambda's runtime says so (AWS_EXECUTION_ENV=AWS_Lambda_python3.12): a deployed function.
    on_lambda: bool
    # `make run` points every client at its one moto (AWS_ENDPOINT_URL): not DynamoDB's speed.
    on_local_stack: bool

    def table(self, variable: str) -> str:
        """The name of the table of `variable` (one of TABLES): the variable's value, else
        `<stage>-<suffix>`; with neither, a MissingSetting naming both, never another stage's."""
        name = self.named.get(variable)
        if name:
            return name
        if self.stage:
            return f"{self.stage}-{TABLES[variable]}"
        raise MissingSetting(f"{variable} (or stage)")


def _table_name(environ: Mapping[str, str], variable: str) -> str:
    name = environ.get(variable) or ""
    if name and not _TABLE_NAME.fullmatch(name):
        raise InvalidSetting(variable, "a table name (up to 255 of A-Z a-z 0-9 _ . -)", name)
    return name


def read(environ: Mapping[str, str]) -> Settings:
    stage = environ.get("stage") or ""  # the original's name for it
    if stage and not _STAGE.fullmatch(stage):
        raise InvalidSetting("stage", "a stage name (up to 200 of A-Z a-z 0-9 _ . -)", stage)
    named = {variable: _table_name(environ, variable) for variable in TABLES}
    return Settings(
        stage=stage,
        named={variable: name for variable, name in named.items() if name},
        tournaments_table=_table_name(environ, "TOURNAMENTS_TABLE"),
        on_lambda=(environ.get("AWS_EXECUTION_ENV") or "").startswith("AWS_Lambda_"),
        on_local_stack=bool(environ.get("AWS_ENDPOINT_URL")),
    )


current = once(read)
current()  # at cold start: a bad value fails it


def table(variable: str) -> str:
    """The name of a table (its variable, one of TABLES), resolved when it is needed."""
    return current().table(variable)
