"""An OpenAPI 3.1 description of the API: the paths are serverless.yml's routes, the schemas
the contract's msgspec Structs (database/models.py), the ones the functions validate bodies
with. Local tooling only: no handler imports it.
"""

import re
from typing import Any

import msgspec

from database.models import (
    ID_LENGTH,
    ID_PATTERN,
    MAX_USERNAME,
    PRICE_IS_ONE_TO_ONE,
    ZONE_MARK,
    Access,
    Availability,
    AvailabilityPage,
    BookingRequest,
    CalendarFeedAddress,
    CalendarPage,
    ErrorBody,
    Meeting,
    MeetingPage,
    MeetingWithOpponent,
    Onboarding,
    OwnUser,
    PayoutAccount,
    RescheduleRequest,
    SeriesDeleted,
    Statistics,
    User,
    UserPage,
    UserUpdate,
    schema_of,
)
from local.serverless import Route, Service
from rules.zones import zone_names

_TIME = {"type": "string", "format": "date-time"}  # RFC 3339, as database.times parses it
# What a path parameter can be (api.http.Request.id and .username); anything else is a 404.
_PATH_PARAMETERS = {
    "id": {"type": "string", "minLength": ID_LENGTH, "maxLength": ID_LENGTH, "pattern": ID_PATTERN},
    "username": {"type": "string", "minLength": 1, "maxLength": MAX_USERNAME},
    "seriesId": {
        "type": "string",
        "minLength": ID_LENGTH,
        "maxLength": ID_LENGTH,
        "pattern": ID_PATTERN,
    },
}
_PAGING = {
    "limit": (
        "Page size, 1 to 100 (default 100).",
        {"type": "integer", "minimum": 1, "maximum": 100},
    ),
    "startKey": (
        "The `lastEvaluatedKey` of the previous page, as it came (anything else is a 400).",
        {"type": "string"},
    ),
}

# A Meeting or an Availability (the description below). Not a Struct: msgspec only takes
# unions of Structs that carry a tag, and these answers do not.
MeetingOrSession = object()

# Per route: summary, request body, response body, query parameters. A route missing here (a
# new function) is still listed, without schemas.
_OPERATIONS: dict[str, tuple[str, type | object | None, type | object | None, dict]] = {
    "GET /user": ("The caller's profile and notification settings", None, OwnUser, {}),
    "GET /public/user/{username}": ("A player's public profile", None, User, {}),
    "GET /user/access": (
        "Whether the caller is a member of the club (asked of the club's shop at most once a "
        "minute); 403 for a free player",
        None,
        Access,
        {},
    ),
    "PUT /user": ("Change the caller's profile fields and settings", UserUpdate, OwnUser, {}),
    "PUT /availability": ("Create or replace an availability", Availability, Availability, {}),
    "GET /availability": (
        "The caller's availabilities, or with byTime a search of others' that admit the "
        "caller's cohort",
        None,
        AvailabilityPage,
        {
            "byTime": (
                "Any value: search others' availabilities by start time.",
                {"type": "string"},
            ),
            "startTime": ("Required with byTime.", _TIME),
            "endTime": ("Not before startTime.", _TIME),
            **_PAGING,
        },
    ),
    "DELETE /availability/{id}": ("Delete one of the caller's availabilities", None, None, {}),
    "DELETE /availability/series/{seriesId}": (
        "End one of the caller's repeating availabilities and delete its open occurrences "
        "(booked ones and group sessions with participants stay)",
        None,
        SeriesDeleted,
        {},
    ),
    "PUT /availability/book": (
        "Book a one-to-one availability as a meeting (answers the Meeting), or join a group "
        "session (answers the session, Availability)",
        BookingRequest,
        MeetingOrSession,
        {},
    ),
    "GET /meeting/{id}": (
        "One of the caller's meetings, with the opponent's profile",
        None,
        MeetingWithOpponent,
        {},
    ),
    "GET /meeting": ("The caller's meetings", None, MeetingPage, _PAGING),
    "PUT /meeting/cancel/{id}": (
        "Cancel a meeting, leave a group session, or (its owner) cancel the session",
        None,
        MeetingOrSession,
        {},
    ),
    "PUT /meeting/reschedule/{id}": (
        "The participant moves a scheduled one-to-one meeting to another open slot of the same "
        "owner, in one step (answers the new Meeting)",
        RescheduleRequest,
        Meeting,
        {},
    ),
    "GET /calendar": (
        "The caller's availabilities, meetings and joined group sessions, and the others' "
        "availabilities the caller can book, from startTime on",
        None,
        CalendarPage,
        {"startTime": ("Default: 24 hours ago.", _TIME), **_PAGING},
    ),
    "POST /user/calendar-feed": (
        "A new secret address of the caller's calendar feed (iCalendar); the earlier one "
        "stops working",
        None,
        CalendarFeedAddress,
        {},
    ),
    "DELETE /user/calendar-feed": (
        "The caller's calendar feed address stops working",
        None,
        None,
        {},
    ),
    "GET /public/calendar-feed/{file}": (
        "A player's calendar feed (text/calendar, RFC 5545) at its secret address "
        "(`<token>.ics`); 404 for any other",
        None,
        None,
        {},
    ),
    "GET /admin/user": ("Every player's profile (admins only)", None, UserPage, _PAGING),
    "GET /admin/availability": (
        "Every availability and group session (admins only)",
        None,
        AvailabilityPage,
        _PAGING,
    ),
    "GET /admin/meeting": ("Every one-to-one meeting (admins only)", None, MeetingPage, _PAGING),
    "GET /admin/statistics": ("The club's statistics (admins only)", None, Statistics, {}),
    "POST /payments/account": (
        "Connect the caller's Stripe account (created once) and get a Stripe onboarding link",
        None,
        Onboarding,
        {},
    ),
    "GET /payments/account": ("The state of the caller's Stripe account", None, PayoutAccount, {}),
    "POST /stripe/webhook": (
        "Stripe's events (signed with the Stripe-Signature header, no JWT)",
        None,
        None,
        {},
    ),
    # Tournaments (TOURNAMENTS=1): docs/tournaments.md.
    "POST /tournaments": (
        "The club's Discord bot (Authorization: Basic <botAccessToken>): store the Lichess or "
        "Chess.com tournament at {url}",
        None,
        None,
        {},
    ),
    "POST /tournaments/leaderboard": (
        "The club's Discord bot (Authorization: Basic <botAccessToken>): this month's standings",
        None,
        None,
        {},
    ),
    "GET /public/tournaments": (
        "The club's tournaments from startTime on",
        None,
        None,
        {"startTime": ("Default: now.", _TIME)},
    ),
    "GET /public/tournaments/leaderboard": (
        "A leaderboard: current, or a past month's or year's snapshot",
        None,
        None,
        {
            "site": ("lichess (default) or chesscom.", {"type": "string"}),
            "timePeriod": ("monthly or yearly.", {"type": "string"}),
            "tournamentType": ("ARENA, SWISS, GRAND_PRIX, ...", {"type": "string"}),
            "timeControl": ("BLITZ, RAPID or CLASSICAL.", {"type": "string"}),
            "date": ("A time in the month or year.", _TIME),
        },
    ),
}
# Per route, the links from its 200 response to the operations that use what it returned:
# they let a client (and schemathesis' stateful phase) go from an availability to booking it,
# to the meeting and to cancelling it. A link to a route serverless.yml does not have is left
# out.
_LINKS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "PUT /availability": {
        "BookIt": (
            "PUT /availability/book",
            {
                "requestBody": {
                    "owner": "$response.body#/owner",
                    "id": "$response.body#/id",
                    "startTime": "$response.body#/startTime",
                    "type": "$response.body#/types/0",
                }
            },
        ),
        "DeleteIt": (
            "DELETE /availability/{id}",
            {"parameters": {"path.id": "$response.body#/id"}},
        ),
    },
    "PUT /availability/book": {
        "TheMeeting": ("GET /meeting/{id}", {"parameters": {"path.id": "$response.body#/id"}}),
        "CancelIt": (
            "PUT /meeting/cancel/{id}",
            {"parameters": {"path.id": "$response.body#/id"}},
        ),
    },
}
# Request bodies that work as they are, for any caller, in the docs page's "Try it out" (and in
# schemathesis' examples phase, which sends them as alice).
_EXAMPLES: dict[str, dict[str, Any]] = {
    "PUT /user": {"discordUsername": "demo_dojo", "dojoCohort": "1200-1300"},
}
_REF = "#/components/schemas/{name}"
_PARAMETER = re.compile(r"\{([^{}]+?)\+?\}")


def document(service: Service, server_url: str) -> dict[str, Any]:
    structs = {
        struct
        for _, request, response, _ in _OPERATIONS.values()
        for struct in (request, response)
        if struct not in (None, MeetingOrSession)
    }
    structs = sorted(structs | {Meeting, Availability, ErrorBody}, key=lambda s: s.__name__)
    refs, schemas = msgspec.json.schema_components(
        structs, schema_hook=schema_of, ref_template=_REF
    )
    ref_of = dict(zip(structs, refs, strict=True))
    _zones_listed(schemas)
    if service.has_feature("payments"):
        schemas["Availability"].update(PRICE_IS_ONE_TO_ONE)
    else:
        _without_prices(schemas)
    ref_of[MeetingOrSession] = {"$ref": _REF.format(name="MeetingOrSession")}
    schemas["MeetingOrSession"] = {
        "title": "MeetingOrSession",
        "description": "What booking and cancelling answer: a one-to-one Meeting (with its "
        "Checkout URL when it is priced and held), or the group session (an Availability) "
        "joined, left or canceled.",
        "anyOf": [ref_of[Meeting], ref_of[Availability]],
    }
    paths: dict[str, dict[str, Any]] = {}
    operation_ids = {route.key: _operation_id(route) for route in service.routes}
    for route in service.routes:
        method = "x-amazon-apigateway-any-method" if route.method == "ANY" else route.method
        operation = _operation(route, ref_of.__getitem__)
        links = {
            name: {"operationId": operation_ids[target], **link}
            for name, (target, link) in _LINKS.get(route.key, {}).items()
            if target in operation_ids
        }
        if links:
            operation["responses"]["200"]["links"] = links
        paths.setdefault(route.path.replace("+}", "}"), {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": service.name, "version": service.stage},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "cognito": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito ID or access token of the user pool.",
                }
            },
        },
    }


def _zones_listed(node: Any) -> None:
    """A time-zone field (models.Zone) takes the names tzdata knows: published as its enum."""
    if isinstance(node, dict):
        if node.pop(ZONE_MARK, False):
            node["enum"] = sorted(zone_names())
        for value in node.values():
            _zones_listed(value)
    elif isinstance(node, list):
        for value in node:
            _zones_listed(value)


def _without_prices(schemas: dict[str, Any]) -> None:
    """A stage without payments accepts no `price` (400 "Payments are off"): say so. The
    property stays, as `false` (never valid): left out, a client could send any value."""
    schemas.pop("Price", None)
    for schema in schemas.values():
        properties = schema.get("properties") or {}
        if "price" in properties:
            properties["price"] = False


def _operation(route: Route, ref_of) -> dict[str, Any]:
    summary, request, response, query = _OPERATIONS.get(route.key, (route.function, None, None, {}))
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_PARAMETERS.get(name, {"type": "string"}),
        }
        for name in _PARAMETER.findall(route.path)
    ] + [
        {"name": name, "in": "query", "description": text, "schema": schema}
        for name, (text, schema) in query.items()
    ]
    success: dict[str, Any] = {"description": "OK"}
    if response:
        success["content"] = _json(ref_of(response))
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": success,
            "default": {
                "description": "An error",
                "content": _json(ref_of(ErrorBody)),
            },
        },
    }
    if request:
        content = _json(ref_of(request))
        if route.key in _EXAMPLES:
            content["application/json"]["example"] = _EXAMPLES[route.key]
        operation["requestBody"] = {"required": True, "content": content}
    if route.authorizer:
        operation["security"] = [{"cognito": list(route.scopes)}]
        operation["responses"]["401"] = {
            "description": "No valid token (answered by API Gateway)",
            "content": _json(
                {"type": "object", "properties": {"message": {"const": "Unauthorized"}}}
            ),
        }
    return operation


def _operation_id(route: Route) -> str:
    # Unique even when one function serves several routes (getUser: /user and /public/user).
    words = re.findall(r"[A-Za-z]+", route.key.replace("{", "by "))
    return words[0].lower() + "".join(word.capitalize() for word in words[1:])


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
