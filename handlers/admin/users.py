"""GET /admin/user: every player's profile, paged (admins only)."""

from typing import Any

from api.admin import admin_handler
from api.http import Request
from database.admin import all_users


def list_users(request: Request) -> dict:
    users, last_key = all_users(request.limit(), request.query("startKey"))
    body: dict[str, Any] = {"users": [user.to_own_json() for user in users]}
    if last_key:
        body["lastEvaluatedKey"] = last_key
    return body


handler = admin_handler(list_users)
