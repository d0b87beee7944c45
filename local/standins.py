"""The one interface every stand-in of `make run` plugs in through (docs/local.md, "Stand-ins").

A stand-in answers for an outside service (Discord, Stripe, the club's shop, Lichess, ...)
under `/_local/<name>`, unless the developer gives the real service's key. It declares:

- `name`: its routes are `/_local/<name>` and below, its console section's id is `<name>`;
- `feature`: the serverless.yml feature it belongs to (None: always on), and `requested`,
  whether the developer asked for that feature (its switch, e.g. MEMBERSHIP=1);
- `panel`: its section of the console (`/_local/`), or None;
- `start`: given the stage and the API's URL, it creates what the stage needs (its secret in
  moto), and says what it serves: its routes, its banner lines, the functions' settings, and
  how to stop.

local/__main__.py starts every stand-in of STAND_INS whose feature is on, in that order, and
knows none of them by name: a new stand-in is its module plus one line in STAND_INS.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from local.events import HttpRequest, HttpResponse
from local.serverless import Service

PREFIX = "/_local/"

Handler = Callable[[HttpRequest], HttpResponse]


@dataclass(frozen=True)
class Context:
    """What a stand-in starts from."""

    service: Service
    shell: Mapping[str, str]  # the developer's environment, before the stage's settings
    api_url: str  # the local API, under which the stand-in's routes are served


@dataclass(frozen=True)
class Panel:
    """A section of the console: it reads `path` (a 404 there: the stand-in is not running,
    and the section says `off`) and draws the state with console.js's function `render`
    (the default draws any JSON as tables)."""

    title: str
    path: str
    off: str
    render: str = "render"


@dataclass
class Started:
    """What a started stand-in serves. `routes` maps each path prefix (its own, under
    /_local/<name>) to (handler, label): empty when the real service is used."""

    routes: dict[str, tuple[Handler, str]] = field(default_factory=dict)
    banner: list[tuple[str, str]] = field(default_factory=list)  # (label, text) lines
    environment: dict[str, str] = field(default_factory=dict)  # for the functions
    stop: Callable[[], None] | None = None


class StandIn(Protocol):
    name: str
    feature: str | None
    panel: Panel | None

    def requested(self) -> bool: ...

    def start(self, context: Context) -> Started: ...


def path_of(name: str) -> str:
    return PREFIX + name


def console_panels(stand_ins: "list[StandIn] | tuple[StandIn, ...]") -> list[dict[str, str]]:
    """The console's sections, in the registry's order, for local/pages.py."""
    return [{"id": s.name, **vars(s.panel)} for s in stand_ins if s.panel is not None]


def check(stand_in: StandIn, started: Started) -> Started:
    """A stand-in serves only under its own prefix: refused loudly otherwise, at start."""
    own = path_of(stand_in.name)
    for route in started.routes:
        if route != own and not route.startswith(own + "/"):
            raise ValueError(f"stand-in {stand_in.name!r} mounts {route}, outside {own}")
    return started
