"""GET /admin/user: every player's profile, paged (admins only)."""

from typing import Any

from api.admin import admin_handler
from api.http import PAGING, Operation, Request
from database.admin import all_users
from database.models import UserPage


def list_users(request: Request) -> dict:
    users, last_key = all_users(request.limit(), request.query("startKey"))
    body: dict[str, Any] = {"users": [user.to_own_json() for user in users]}
    if last_key:
        body["lastEvaluatedKey"] = last_key
    return body


handler = admin_handler(
    list_users,
    Operation(
        "GET /admin/user", "Every player's profile (admins only)", response=UserPage, query=PAGING
    ),
)
