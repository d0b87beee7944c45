"""GET /user (the caller's profile) and GET /public/user/{username} (anyone's, no sign-in)."""

from api.http import Request, http_handler
from database.users import require_user


def get_user(request: Request) -> dict:
    # The public route names the player; GET /user means the signed-in caller.
    return require_user(request.path("username", required=False) or request.caller).to_json()


handler = http_handler(get_user)
