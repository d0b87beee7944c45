"""GET /user/access: whether the caller is a member of the club, asked of the club's shop again
at most once a minute (membership.check); a free player gets a 403."""

from api.errors import Forbidden
from api.http import Operation, Request, http_handler
from database.models import Access
from membership import check
from rules.membership import SUBSCRIBED

NOT_A_MEMBER = "No active subscription was found on the club's shop for your email"
PENDING = "The club's shop could not be reached: your membership will be checked again shortly"


def check_access(request: Request) -> dict:
    membership = check.recheck(request.caller)
    if membership.status != SUBSCRIBED:
        raise Forbidden(PENDING if membership.pending else NOT_A_MEMBER)
    return {"subscriptionStatus": SUBSCRIBED}


handler = http_handler(
    check_access,
    Operation(
        "GET /user/access",
        "Whether the caller is a member of the club (asked of the club's shop at most once a "
        "minute); 403 for a free player",
        response=Access,
    ),
)
