"""The admin routes' one rule: the caller's profile says `isAdmin` (set by an operator), or 403."""

import functools
from collections.abc import Callable

from api.errors import Forbidden
from api.http import Operation, Request, http_handler
from database.users import get_user

NOT_AN_ADMIN = "You must be an admin to do this"


def admin_handler(route: Callable[[Request], dict], *operations: Operation) -> Callable[..., dict]:
    """`http_handler(route, *operations)`, answering 403 before `route` runs unless the caller
    is an admin."""

    @functools.wraps(route)
    def checked(request: Request) -> dict:
        caller = get_user(request.caller)
        if caller is None or not caller.isAdmin:
            raise Forbidden(NOT_AN_ADMIN)
        return route(request)

    return http_handler(checked, *operations)
