"""Cognito PostConfirmation trigger: creates the player's profile once, on sign-up, and where
the stage has a shop, asks it whether the player is a member (membership/)."""

from typing import Any

from api.log import logger
from database.users import create_user
from membership import settings


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
    created = create_user(username, email, attributes.get("name", ""), membership)
    logger.info(
        "User confirmed",
        username=username,
        new_user=created,
        subscription_status=membership and membership.status,
        membership_pending=membership and membership.pending,
    )
    return event
