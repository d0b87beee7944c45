"""Demo data, created the way a frontend would: sign-up through the Cognito endpoint (so the
PostConfirmation trigger creates each profile), then the API with each player's token."""

import json
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from local.aws import UserPool

DEMO_PASSWORD = "Demo-pass-1"  # meets Cognito's default password policy too


@dataclass(frozen=True)
class Offer:
    """An availability `days` from now, from `hour` UTC, for `hours`."""

    days: int
    hour: int
    hours: int
    types: tuple[str, ...]
    cohorts: tuple[str, ...]
    free: bool = False  # bookable by free players too (where membership is on)
    price: int = 0  # in US cents: a paid coaching session (where the stand-in Stripe runs)
    # A repeating availability (contract v4): an RRULE, repeated at the first start's
    # wall-clock time in the player's zone.
    rule: str = ""


@dataclass(frozen=True)
class Player:
    username: str
    name: str
    cohort: str
    offers: tuple[Offer, ...] = ()
    timezone: str = "UTC"


DEMO = Player(
    "demo", "Demo Player", "1200-1300", (Offer(4, 18, 2, ("CLASSICAL_GAME",), ("1200-1300",)),)
)
PLAYERS = (
    DEMO,
    Player(
        "anna",
        "Anna Example",
        "1100-1200",
        (
            Offer(1, 18, 2, ("CLASSICAL_GAME", "OPENING_SPARRING"), ("ALL_COHORTS",), free=True),
            # every week on that day, 19:00 or 20:00 in Berlin (18:00 UTC on the first day)
            Offer(3, 18, 1, ("OPENING_SPARRING",), ("ALL_COHORTS",), rule="FREQ=WEEKLY"),
        ),
        timezone="Europe/Berlin",
    ),
    Player(
        "boris",
        "Boris Example",
        "1200-1300",
        (
            Offer(2, 17, 2, ("ENDGAME_SPARRING", "ROOK_ENDGAME_PROGRESSION"), ("1200-1300",)),
            Offer(5, 9, 3, ("MIDDLEGAME_SPARRING",), ("1100-1200", "1200-1300", "1300-1400")),
        ),
    ),
    Player(
        "carla",
        "Carla Example",
        "1300-1400",
        (Offer(3, 9, 2, ("CLASSIC_ANALYSIS", "BOOK_STUDY"), ("ALL_COHORTS",)),),
    ),
    # A coach with a Stripe account (the stand-in's): a paid one-to-one session.
    Player(
        "erik",
        "Erik Coach",
        "2000-2100",
        (Offer(2, 19, 1, ("CLASSIC_ANALYSIS",), ("ALL_COHORTS",), price=2500),),
    ),
)


def email_of(player: Player) -> str:
    return f"{player.username}@example.com"


def login_of(player: Player, pool: UserPool) -> str:
    # A pool that signs in by email takes the email in place of a username.
    email = email_of(player)
    return email if "email" in pool.username_attributes else player.username


def seed(api_url: str, cognito_endpoint: str, pool: UserPool, stripe_stand_in: bool) -> str:
    """The players and their offers; a priced offer only with the stand-in Stripe, whose
    onboarding link (a control route) enables the coach's account at once. Answers the demo
    player's calendar feed address (docs/calendar-feed.md)."""
    feed = ""
    cognito = boto3.client("cognito-idp", endpoint_url=cognito_endpoint)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for player in PLAYERS:
        login = login_of(player, pool)
        cognito.sign_up(
            ClientId=pool.client_id,
            Username=login,
            Password=DEMO_PASSWORD,
            UserAttributes=[
                {"Name": "email", "Value": email_of(player)},
                {"Name": "name", "Value": player.name},
            ],
        )
        cognito.confirm_sign_up(ClientId=pool.client_id, Username=login, ConfirmationCode="0")
        token = cognito.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": login, "PASSWORD": DEMO_PASSWORD},
        )["AuthenticationResult"]["IdToken"]
        discord = f"{player.username}_dojo"
        profile = {
            "discordUsername": discord,
            "dojoCohort": player.cohort,
            "timezone": player.timezone,
        }
        user = _call(api_url, "PUT", "/user", token, profile)
        if player is DEMO:
            feed = _call(api_url, "POST", "/user/calendar-feed", token, {})["url"]
        if any(offer.price for offer in player.offers) and stripe_stand_in:
            onboarding = _call(api_url, "POST", "/payments/account", token, {})
            _call(onboarding["onboardingUrl"], "POST", "", None, {})
        for offer in player.offers:
            if offer.price and not stripe_stand_in:
                continue
            start = hour.replace(hour=offer.hour) + timedelta(days=offer.days)
            availability = {
                "owner": user["username"],
                "ownerDiscord": discord,
                "ownerCohort": player.cohort,
                "startTime": start.isoformat().replace("+00:00", "Z"),
                "endTime": (start + timedelta(hours=offer.hours))
                .isoformat()
                .replace("+00:00", "Z"),
                "types": list(offer.types),
                "cohorts": list(offer.cohorts),
                "bookableByFreeUsers": offer.free,
            }
            if offer.price:
                availability["price"] = {"amount": offer.price, "currency": "usd"}
            if offer.rule:  # the series' zone is the owner's (PUT /user above)
                availability["recurrence"] = {"rule": offer.rule}
            _call(api_url, "PUT", "/availability", token, availability)
    return feed


def _call(api_url: str, method: str, path: str, token: str | None, body: dict[str, Any]) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{api_url}{path}", data=json.dumps(body).encode(), method=method, headers=headers
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
