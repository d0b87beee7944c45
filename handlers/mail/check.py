"""Scheduled (prod, daily): fails while this account's Amazon SES cannot carry Cognito's mail at
scale, so that the function's errors alarm e-mails the operator (docs/deploy.md, "Mail through
SES").

In the SES sandbox an account sends only to verified addresses (and at most 200 a day): sign-up
codes would reach almost nobody. Sending paused, or the account under review (`PROBATION`) or
shut down, is as bad. Each is reported with what to do; a healthy account logs one line.
"""

import functools
from typing import Any

import botocore.session
from botocore.config import Config

from api.log import logger

CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


class MailSendingAtRisk(Exception):
    """What keeps SES from sending the user pool's mail; the message says what to do."""


@functools.cache
def ses():
    """The container's SES (v2) client (tests attach a botocore Stubber to it)."""
    return botocore.session.get_session().create_client("sesv2", config=CONFIG)


def problems(account: dict[str, Any]) -> list[str]:
    """What is wrong with the account's sending, from SES's GetAccount answer."""
    found = []
    if not account.get("ProductionAccessEnabled", False):
        found.append(
            "SES is in the sandbox: it sends only to verified addresses, at most 200 a day. "
            "Request production access: SES console, Account dashboard, 'Request production "
            "access' (or aws sesv2 put-account-details --production-access-enabled ...)"
        )
    if not account.get("SendingEnabled", False):
        found.append(
            "SES sending is paused for this account: aws sesv2 put-account-sending-attributes "
            "--sending-enabled, once the cause is fixed"
        )
    status = account.get("EnforcementStatus", "HEALTHY")
    if status != "HEALTHY":
        found.append(
            f"SES enforcement status is {status}: see the SES console's Reputation metrics and "
            "the notices AWS sent (bounces or complaints above SES's thresholds)"
        )
    return found


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    account = ses().get_account()
    found = problems(account)
    if found:
        raise MailSendingAtRisk(" | ".join(found))
    quota = account.get("SendQuota") or {}
    logger.info("SES can send the user pool's mail", max_24_hour_send=quota.get("Max24HourSend"))
    return {"productionAccess": True, "max24HourSend": quota.get("Max24HourSend")}
