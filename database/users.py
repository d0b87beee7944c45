"""The users table: one item per player, keyed by `username`."""

from typing import Any

from botocore.exceptions import ClientError

from database.client import (
    USERS_TABLE,
    conditional,
    dynamodb,
    error_code,
    from_item,
    to_item,
    translate_errors,
)
from database.errors import Conflict, NotFound
from database.models import Membership, OwnUser, StripeAccount


@translate_errors
def get_user(username: str) -> OwnUser | None:
    item = dynamodb().get_item(TableName=USERS_TABLE, Key=to_item({"username": username}))
    return OwnUser.from_item(from_item(item["Item"])) if "Item" in item else None


def require_user(username: str) -> OwnUser:
    user = get_user(username)
    if user is None:
        raise NotFound("User not found")
    return user


@translate_errors
def create_user(
    username: str, email: str, name: str, membership: Membership | None = None, client=None
) -> bool:
    """Stores a new player; a player who already exists is left untouched (returns False).
    `email` and `name` are stored for the club, never returned. `membership`: what the club's
    shop said at sign-up, where there is a shop. `client`: one with tighter bounds (createUser)."""
    item = {"username": username, "email": email, "name": name}
    if membership is not None:
        item.update(membership.to_item())
    created = conditional(
        (client or dynamodb()).put_item,
        TableName=USERS_TABLE,
        Item=to_item(item),
        ConditionExpression="attribute_not_exists(username)",
    )
    return created is not None


@translate_errors
def update_user(username: str, changes: dict[str, Any]) -> OwnUser:
    """Applies public-field `changes` to an existing player in one conditional write."""
    if not changes:
        return require_user(username)
    names = {f"#{field}": field for field in changes}
    result = conditional(
        dynamodb().update_item,
        TableName=USERS_TABLE,
        Key=to_item({"username": username}),
        UpdateExpression="SET " + ", ".join(f"#{field} = :{field}" for field in changes),
        ConditionExpression="attribute_exists(username)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=to_item({f":{k}": v for k, v in changes.items()}),
        ReturnValues="ALL_NEW",
    )
    if result is None:
        raise NotFound("User not found")
    return OwnUser.from_item(from_item(result["Attributes"]))


@translate_errors
def get_payout_account(username: str) -> StripeAccount:
    """A player's Stripe Connect account as last stored (none yet: not connected)."""
    item = dynamodb().get_item(
        TableName=USERS_TABLE,
        Key=to_item({"username": username}),
        ProjectionExpression="username, stripeAccountId, stripeChargesEnabled, "
        "stripeDetailsSubmitted",
    )
    if "Item" not in item:
        raise NotFound("User not found")
    return StripeAccount.from_item(from_item(item["Item"]))


@translate_errors
def claim_payout_account(username: str, account_id: str) -> StripeAccount:
    """Stores the player's connected account, once: a second account is never stored over the
    first (the caller then uses the stored one)."""
    result = conditional(
        dynamodb().update_item,
        TableName=USERS_TABLE,
        Key=to_item({"username": username}),
        UpdateExpression="SET stripeAccountId = :account",
        ConditionExpression="attribute_exists(username) AND "
        "(attribute_not_exists(stripeAccountId) OR stripeAccountId = :account)",
        ExpressionAttributeValues=to_item({":account": account_id}),
        ReturnValues="ALL_NEW",
    )
    if result is None:
        current = get_payout_account(username)  # 404 when the player is gone
        if current.account_id is None:
            raise Conflict("Your account changed meanwhile: please try again")
        return current
    return StripeAccount.from_item(from_item(result["Attributes"]))


@translate_errors
def update_payout_account(username: str, account: StripeAccount, as_of: int) -> bool:
    """Stripe's view of the player's connected account at `as_of` (the event's time, epoch
    seconds); an older view than the one stored changes nothing. False when it changed
    nothing (another account, or a stale event)."""
    updated = conditional(
        dynamodb().update_item,
        TableName=USERS_TABLE,
        Key=to_item({"username": username}),
        UpdateExpression="SET stripeChargesEnabled = :charges, "
        "stripeDetailsSubmitted = :details, stripeAccountUpdated = :as_of",
        ConditionExpression="stripeAccountId = :account AND "
        "(attribute_not_exists(stripeAccountUpdated) OR stripeAccountUpdated <= :as_of)",
        ExpressionAttributeValues=to_item(
            {
                ":account": account.account_id,
                ":charges": account.charges_enabled,
                ":details": account.details_submitted,
                ":as_of": as_of,
            }
        ),
    )
    return updated is not None


@translate_errors
def claim_membership_check(username: str, at: int, interval: int) -> tuple[Membership, bool]:
    """Claims a re-check of the player's membership at `at` (epoch seconds), unless one was
    made less than `interval` seconds ago: one conditional write, so of concurrent requests
    only one asks the shop. Returns the membership as stored (with the player's email) and
    whether this request holds the claim."""
    try:
        result = dynamodb().update_item(
            TableName=USERS_TABLE,
            Key=to_item({"username": username}),
            UpdateExpression="SET membershipCheckedAt = :at",
            ConditionExpression="attribute_exists(username) AND "
            "(attribute_not_exists(membershipCheckedAt) OR membershipCheckedAt <= :due)",
            ExpressionAttributeValues=to_item({":at": at, ":due": at - interval}),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        if "Item" not in error.response:
            raise NotFound("User not found") from error
        return Membership.from_item(from_item(error.response["Item"])), False
    return Membership.from_item(from_item(result["Attributes"])), True


@translate_errors
def store_membership_check(username: str, at: int, status: str | None) -> bool:
    """The answer to the check claimed at `at`: the shop's `status`, or None when the shop did
    not answer (the status stays, the check is pending). A later claim's answer wins: False
    when another check was claimed since."""
    if status is None:
        update, values = "SET membershipPending = :yes", {":yes": True}
    else:
        update = "SET subscriptionStatus = :status, membershipPending = :no"
        values = {":status": status, ":no": False}
    stored = conditional(
        dynamodb().update_item,
        TableName=USERS_TABLE,
        Key=to_item({"username": username}),
        UpdateExpression=update,
        ConditionExpression="membershipCheckedAt = :at",
        ExpressionAttributeValues=to_item({**values, ":at": at}),
    )
    return stored is not None
