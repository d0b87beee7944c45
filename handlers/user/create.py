"""Cognito PostConfirmation trigger: creates the player's profile once, on sign-up."""

from typing import Any

from api.log import logger
from database.models import NewUser
from database.users import create_user


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # Cognito fails the sign-in flow unless the trigger returns the event, so always return it;
    # an exception still propagates, so Cognito reports the failure instead of hiding it.
    if event.get("triggerSource") != "PostConfirmation_ConfirmSignUp":
        logger.info("Ignoring trigger", trigger_source=event.get("triggerSource"))
        return event
    attributes = (event.get("request") or {}).get("userAttributes") or {}
    user = NewUser(
        username=event["userName"],
        email=attributes.get("email", ""),
        name=attributes.get("name", ""),
    )
    created = create_user(user)
    logger.info("User confirmed", username=user.username, new_user=created)
    return event
