"""The users table: one item per player, keyed by `username`."""

from botocore.exceptions import ClientError

from database.client import USERS_TABLE, dynamodb, error_code, from_item, to_item, translate_errors
from database.errors import Conflict, NotFound
from database.models import OwnUser, StripeAccount


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
def create_user(username: str, email: str, name: str) -> bool:
    """Stores a new player; a player who already exists is left untouched (returns False).
    `email` and `name` are stored for the club, never returned."""
    try:
        dynamodb().put_item(
            TableName=USERS_TABLE,
            Item=to_item({"username": username, "email": email, "name": name}),
            ConditionExpression="attribute_not_exists(username)",
        )
        return True
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise


@translate_errors
def update_user(username: str, changes: dict[str, str | bool]) -> OwnUser:
    """Applies public-field `changes` to an existing player in one conditional write."""
    if not changes:
        return require_user(username)
    names = {f"#{field}": field for field in changes}
    try:
        result = dynamodb().update_item(
            TableName=USERS_TABLE,
            Key=to_item({"username": username}),
            UpdateExpression="SET " + ", ".join(f"#{field} = :{field}" for field in changes),
            ConditionExpression="attribute_exists(username)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item({f":{k}": v for k, v in changes.items()}),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            raise NotFound("User not found") from error
        raise
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
    try:
        result = dynamodb().update_item(
            TableName=USERS_TABLE,
            Key=to_item({"username": username}),
            UpdateExpression="SET stripeAccountId = :account",
            ConditionExpression="attribute_exists(username) AND "
            "(attribute_not_exists(stripeAccountId) OR stripeAccountId = :account)",
            ExpressionAttributeValues=to_item({":account": account_id}),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        current = get_payout_account(username)  # 404 when the player is gone
        if current.account_id is None:
            raise Conflict("Your account changed meanwhile: please try again") from error
        return current
    return StripeAccount.from_item(from_item(result["Attributes"]))


@translate_errors
def update_payout_account(username: str, account: StripeAccount, as_of: int) -> bool:
    """Stripe's view of the player's connected account at `as_of` (the event's time, epoch
    seconds); an older view than the one stored changes nothing. False when it changed
    nothing (another account, or a stale event)."""
    try:
        dynamodb().update_item(
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
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True
