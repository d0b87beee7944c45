"""The club's shop (a Wix site), asked whether an email holds an active subscription.

`GET {SHOP_URL}/_functions/user/{email}` with the header `Auth: <key>`, as the original backend
asked it (backend/user/access/access.go): 200 `{"user": {"_id": ...}, "subscriptions":
[{"_id": ...}, ...]}` with the email's active subscriptions; 404 when the shop has no such
customer. The key is the `wixApiKey` of the stage's shop secret (SHOP_SECRET_NAME, JSON
`{"wixApiKey": "..."}`, wix.yml's key), read by api/secrets.py and cached.

createUser calls this inside Cognito's PostConfirmation trigger, which Cognito waits 5 s for,
cold start included, so every step has a bound and nothing is retried: the secret's one attempt
(at most SECRET_SECONDS, and only on a cold container), then the shop's one attempt (at most
SIGN_UP_SHOP_SECONDS there, SHOP_SECONDS for GET /user/access; connect and read together).
SIGN_UP_BUDGET adds them up with the cold start and the profile's PutItem (handlers/user/create.py).
No answer (a timeout, a 5xx, a refused key, a connection error, a body that is not the shop's)
is `None`: the caller stores the player as FREE_TIER with the check pending, and the next
`GET /user/access` asks again.
"""

import functools
from urllib.parse import quote

import requests
from botocore.config import Config
from requests.adapters import HTTPAdapter
from urllib3.util import Timeout

from api.log import logger
from api.secrets import SecretUnavailable, stage_secret
from membership import settings
from rules.membership import FREE_TIER, SUBSCRIBED, MembershipStatus

# The whole shop call: urllib3's `total` bounds connecting and reading together (a plain
# requests timeout bounds each socket operation, not their sum). GET /user/access (API
# Gateway waits 30 s) gives the shop 3 s; the sign-up less, to fit Cognito's 5 s.
SHOP_SECONDS = 3.0
SIGN_UP_SHOP_SECONDS = 1.5
SHOP_RETRIES = 0
# The secret: one attempt, bounded; a warm container has it cached (api.secrets.MAX_AGE).
# GetSecretValue answers in tens of milliseconds in the region.
SECRET_CONFIG = Config(
    connect_timeout=0.3,
    read_timeout=0.5,
    retries={"mode": "standard", "total_max_attempts": 1},
)
# Config sets its options in a loop: botocore declares no attribute for the checker to see.
SECRET_SECONDS = SECRET_CONFIG.connect_timeout + SECRET_CONFIG.read_timeout  # pyright: ignore[reportAttributeAccessIssue]
SECRET_KEY = "wixApiKey"


@functools.cache
def _session() -> requests.Session:
    """One HTTP session per container (its connection to the shop is reused), no retries."""
    session = requests.Session()
    session.mount("https://", HTTPAdapter(max_retries=SHOP_RETRIES))
    session.mount("http://", HTTPAdapter(max_retries=SHOP_RETRIES))
    return session


def _key() -> str | None:
    try:
        secret = stage_secret(settings.secret_name(), SECRET_CONFIG)
    except SecretUnavailable as error:
        logger.error("The shop's key is not readable", detail=str(error))
        return None
    key = secret.get(SECRET_KEY)
    if not key:
        logger.error("The shop's secret holds no key", secret=settings.secret_name())
        return None
    return key


def subscription_status(email: str, seconds: float = SHOP_SECONDS) -> MembershipStatus | None:
    """SUBSCRIBED when the shop lists an active subscription for `email`, FREE_TIER when it
    has none or no such customer, None when it could not say within `seconds` (see the
    module's docstring)."""
    if not email:
        return FREE_TIER  # nothing to ask about (the original's answer too)
    key = _key()
    if key is None:
        return None
    url = f"{settings.shop_url()}/_functions/user/{quote(email, safe='@')}"
    try:
        response = _session().get(
            url,
            headers={"Auth": key},
            # requests passes a urllib3 Timeout through (its adapter's isinstance check); its
            # type stubs declare numbers only.
            timeout=Timeout(total=seconds),  # pyright: ignore[reportArgumentType]
            allow_redirects=False,
        )
    except requests.RequestException as error:
        logger.warning("The shop did not answer", detail=str(error))
        return None
    if response.status_code == 404:
        return FREE_TIER
    if response.status_code != 200:
        # A 5xx is the shop's outage; a 401/403 is a key it refuses: neither says who is a member.
        logger.warning("The shop did not answer", status=response.status_code)
        return None
    try:
        subscriptions = response.json().get("subscriptions")
    except (ValueError, AttributeError):
        subscriptions = "unreadable"
    if subscriptions is not None and not isinstance(subscriptions, list):
        logger.warning("The shop's answer is not its own", status=response.status_code)
        return None
    return SUBSCRIBED if subscriptions else FREE_TIER
