"""PUT /user: changes the caller's public profile fields (never the username, email or name)."""

from api.errors import BadRequest
from api.http import Operation, Request, http_handler
from database.models import OwnUser, UserUpdate
from database.users import update_user
from membership.settings import as_seen


def set_user(request: Request) -> dict:
    caller = request.caller
    update = request.body(UserUpdate.from_json)
    if update.username not in (None, caller):
        raise BadRequest("username cannot be changed")
    return as_seen(update_user(caller, update.changes)).to_own_json()


handler = http_handler(
    set_user,
    Operation(
        "PUT /user",
        "Change the caller's profile fields and settings",
        request=UserUpdate,
        response=OwnUser,
        example={"discordUsername": "demo_dojo", "dojoCohort": "1200-1300"},
    ),
)
