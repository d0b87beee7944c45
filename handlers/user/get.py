"""GET /user (the caller's profile and settings) and GET /public/user/{username} (anyone's
public profile, no sign-in)."""

from api.http import Operation, Request, http_handler
from database.models import OwnUser, User
from database.users import require_user
from membership.settings import as_seen


def get_user(request: Request) -> dict:
    if request.path("username", required=False) is not None:
        return require_user(request.username()).to_json()
    return as_seen(require_user(request.caller)).to_own_json()


handler = http_handler(
    get_user,
    Operation("GET /user", "The caller's profile and notification settings", response=OwnUser),
    Operation("GET /public/user/{username}", "A player's public profile", response=User),
)
