"""The users table: one item per player, keyed by `username`."""

from botocore.exceptions import ClientError

from database.client import USERS_TABLE, dynamodb, error_code, from_item, to_item, translate_errors
from database.errors import NotFound
from database.models import User


@translate_errors
def get_user(username: str) -> User | None:
    item = dynamodb().get_item(TableName=USERS_TABLE, Key=to_item({"username": username}))
    return User.from_item(from_item(item["Item"])) if "Item" in item else None


def require_user(username: str) -> User:
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
def update_user(username: str, changes: dict[str, str | bool]) -> User:
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
    return User.from_item(from_item(result["Attributes"]))
