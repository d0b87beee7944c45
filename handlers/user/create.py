"""Cognito PostConfirmation trigger: creates the player's profile once, on sign-up."""

from typing import Any

from api.log import logger
from database.users import create_user


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # Cognito fails the sign-in flow unless the trigger returns the event, so always return it;
    # an exception still propagates, so Cognito reports the failure instead of hiding it.
    if event.get("triggerSource") != "PostConfirmation_ConfirmSignUp":
        logger.info("Ignoring trigger", trigger_source=event.get("triggerSource"))
        return event
    attributes = (event.get("request") or {}).get("userAttributes") or {}
    username = event["userName"]
    created = create_user(username, attributes.get("email", ""), attributes.get("name", ""))
    logger.info("User confirmed", username=username, new_user=created)
    return event
