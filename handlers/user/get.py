"""GET /user (the caller's profile) and GET /public/user/{username} (anyone's, no sign-in)."""

from api.http import Request, http_handler
from database.users import require_user


def get_user(request: Request) -> dict:
    if (request.event.get("pathParameters") or {}).get("username"):
        return require_user(request.path("username")).to_json()
    return require_user(request.caller).to_json()


handler = http_handler(get_user)
