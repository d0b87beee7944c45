"""GET /user (the caller's profile) and GET /public/user/{username} (anyone's, no sign-in)."""

from api.http import Request, http_handler
from database.models import User
from database.users import require_user


def get_user(request: Request) -> User:
    if (request.event.get("pathParameters") or {}).get("username"):
        return require_user(request.path("username"))
    return require_user(request.caller)


handler = http_handler(get_user)
