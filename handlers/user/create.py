"""Cognito PostConfirmation trigger: creates the player's profile once, on sign-up, and where
the stage has a shop, asks it whether the player is a member (membership/).

Cognito waits 5 s for its trigger, cold start included; past that the player is shown an error
although they are confirmed. So every step has a bound, and the bounds add up to less
(SIGN_UP_BUDGET; docs/first-deploy.md, "The sign-up budget"; tests/infra/test_sign_up_budget.py
measures the cold path).
"""

from typing import Any

from botocore.config import Config

from api.log import logger
from database import settings as data_settings
from database.client import bounded_dynamodb
from database.users import create_user
from membership import settings

COGNITO_SECONDS = 5.0
# The runtime's start, this module's imports and, with a shop, its client's (requests, and
# boto3 through Powertools Parameters) and the secret's and DynamoDB's clients: ~0.4 s of CPU
# measured, ~0.7 s at the share of a core Lambda gives 1024 MB (tests/infra/test_sign_up_budget.py);
# allowed 1 s.
COLD_START_SECONDS = 1.0
# The profile's PutItem: 2 attempts of 0.25 s connect + 0.5 s read (a PutItem takes
# milliseconds), 50 ms apart (legacy retries: botocore's DynamoDB delay; standard mode waits up
# to 1 s), instead of the API's 3 x (2 + 3) s (database/client.py).
PUT_CONNECT_SECONDS, PUT_READ_SECONDS, PUT_ATTEMPTS = 0.25, 0.5, 2
PUT_CONFIG = Config(
    connect_timeout=PUT_CONNECT_SECONDS,
    read_timeout=PUT_READ_SECONDS,
    retries={"mode": "legacy", "total_max_attempts": PUT_ATTEMPTS},
)
PUT_SECONDS = PUT_ATTEMPTS * (PUT_CONNECT_SECONDS + PUT_READ_SECONDS) + 0.05


def sign_up_budget(membership: bool) -> float:
    """The longest a cold sign-up can take, each step at its bound."""
    if not membership:
        return COLD_START_SECONDS + PUT_SECONDS
    from membership import shop  # only where there is a shop (its client loads requests)

    return COLD_START_SECONDS + shop.SECRET_SECONDS + shop.SIGN_UP_SHOP_SECONDS + PUT_SECONDS


def _put_client():
    """The bounded client on AWS. `make run` points every client at its moto with
    AWS_ENDPOINT_URL: one process serving every table, far slower than DynamoDB when thirty
    players sign up at once, and its Cognito waits for the trigger without a 5 s limit. There,
    the API's client (None: create_user's default)."""
    return None if data_settings.current().on_local_stack else bounded_dynamodb(PUT_CONFIG)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # Cognito fails the sign-in flow unless the trigger returns the event, so always return it;
    # an exception still propagates, so Cognito reports the failure instead of hiding it.
    if event.get("triggerSource") != "PostConfirmation_ConfirmSignUp":
        logger.info("Ignoring trigger", trigger_source=event.get("triggerSource"))
        return event
    attributes = (event.get("request") or {}).get("userAttributes") or {}
    username = event["userName"]
    email = attributes.get("email", "")
    membership = None
    if settings.enabled():
        # Only here: the shop's client (requests, boto3 for its key). The shop never fails a
        # sign-up: no answer is FREE_TIER, pending (membership.check).
        from membership import check

        membership = check.at_sign_up(email)
    created = create_user(username, email, attributes.get("name", ""), membership, _put_client())
    logger.info(
        "User confirmed",
        username=username,
        new_user=created,
        subscription_status=membership and membership.status,
        membership_pending=membership and membership.pending,
    )
    return event
