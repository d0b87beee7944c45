"""PUT /user: changes the caller's public profile fields (never the username, email or name)."""

from api.errors import BadRequest
from api.http import Request, http_handler
from database.models import User, UserUpdate
from database.users import update_user


def set_user(request: Request) -> User:
    caller = request.caller
    update = request.body(UserUpdate)
    if update.username is not None and update.username != caller:
        raise BadRequest("username cannot be changed")
    return update_user(caller, update)


handler = http_handler(set_user)
