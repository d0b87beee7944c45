"""Mail through Amazon SES (API v2, `SendEmail` with a raw MIME message): one plain-text mail to
one address, with at most one attachment, from the stage's `mailFrom` (docs/mail.md).

A mail that does not go out fails in one of two ways, because the caller must know whether to
try again:
- `MailUnavailable`: SES (or the way to it) cannot take it now: throttled, its 5xx, a timeout, no
  connection, sending paused. Worth retrying later. A read timeout may hide a mail SES did take:
  a retry can then send it twice (SES has no idempotency key).
- `MailRejected`: SES refuses this mail and will refuse it again: its content or an address
  (MessageRejected, BadRequestException), a sender SES does not know as this account's
  (unverified identity, MAIL FROM domain), a suspended account. Never retried.

Settings (docs/settings.md): MAIL_FROM (`ChessDojo <no-reply@example.org>`; unset: the stage
sends no mail), read once per container. A send names no identity ARN: SES authorises the From
address's own verified identity (the resource of the function's `ses:SendEmail` grant);
`FromEmailAddressIdentityArn` is only for sending authorization, a delegate sending as another
account's identity, which this backend never is.
Standard library and botocore only (the Lambda runtime ships botocore).
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from database.settings import InvalidSetting, once, text

# The caller is a once-a-minute job: one call gets 2 attempts (botocore's standard mode: on
# throttling, 5xx and connection errors) of 2 s to connect and 5 s to answer, ~15 s at worst,
# and what is left is retried at the next run.
CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=2, read_timeout=5
)

# SES API v2's largest message, attachments included, as sent (after base64 encoding).
MAX_MESSAGE_BYTES = 40 * 1024 * 1024

# SES's answers that mean "not this mail, ever" (botocore's sesv2 model; InvalidParameterValue
# is SES API v1's name for a bad address, which some emulators answer). Every other answer is
# "not now": throttling and quotas, sending paused, 5xx, and AccessDeniedException too (a role
# just deployed may take a moment to apply, and a missing grant is fixed by a deploy, not by
# giving up on the mail).
_DEFINITIVE = {
    "MessageRejected",
    "BadRequestException",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "NotFoundException",
    "InvalidParameterValue",
    "ValidationException",
}
# An address SES takes: ASCII, one local part and a domain of dot-separated labels.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


class MailError(Exception):
    pass


class MailUnavailable(MailError):
    """Not sent, for now: try again later."""


class MailRejected(MailError):
    """Not sent, and never will be: do not retry."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # maintype/subtype, e.g. text/calendar
    data: bytes


@dataclass(frozen=True)
class Settings:
    mail_from: str  # MAIL_FROM: `Name <address>` or an address; empty: no mail on this stage


def read(environ: Mapping[str, str]) -> Settings:
    mail_from = text(environ, "MAIL_FROM")
    if mail_from and not _ADDRESS.fullmatch(parseaddr(mail_from)[1]):
        raise InvalidSetting("MAIL_FROM", "an email address, or `Name <address>`", mail_from)
    return Settings(mail_from=mail_from)


current = once(read)  # read once per container (database/settings.py)
current()  # at cold start: a bad value fails it


def mail_enabled() -> bool:
    """Whether this stage sends mail (it has a From address)."""
    return bool(current().mail_from)


@functools.cache
def ses() -> Any:
    """The container's SES (v2) client (tests attach a botocore Stubber to it)."""
    return botocore.session.get_session().create_client("sesv2", config=CONFIG)


def send_mail(to: str, subject: str, text: str, attachment: Attachment | None = None) -> str:
    """Sends `text` (plain text) to `to` from the stage's address; SES's MessageId."""
    settings = current()
    if not settings.mail_from:
        raise MailRejected("this stage sends no mail (MAIL_FROM is not set)")
    recipient = _address(to)
    raw = message(settings.mail_from, recipient, subject, text, attachment)
    if len(raw) > MAX_MESSAGE_BYTES:  # SES would refuse it: not worth the upload
        raise MailRejected(f"the message is {len(raw)} bytes, over SES's {MAX_MESSAGE_BYTES}")
    request: dict[str, Any] = {
        "FromEmailAddress": parseaddr(settings.mail_from)[1],
        "Destination": {"ToAddresses": [recipient]},
        "Content": {"Raw": {"Data": raw}},
    }
    try:
        return ses().send_email(**request)["MessageId"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _DEFINITIVE:
            raise MailRejected(f"SES refused the mail: {code}: {_said(error)}") from error
        raise MailUnavailable(f"SES could not take the mail now: {code}: {_said(error)}") from error
    except ParamValidationError as error:  # refused before leaving: the same every time
        raise MailRejected(f"SES's client refused the request: {error}") from error
    except BotoCoreError as error:  # timeouts, no connection, a reset
        raise MailUnavailable(f"SES could not be reached: {error}") from error


def message(
    mail_from: str, to: str, subject: str, text: str, attachment: Attachment | None = None
) -> bytes:
    """The MIME message (RFC 5322, CRLF line ends): a UTF-8 text/plain body, and the attachment
    if any; names and subjects beyond ASCII as RFC 2047 encoded words."""
    mail = EmailMessage(policy=SMTP)
    name, address = parseaddr(mail_from)
    mail["From"] = Address(display_name=name, addr_spec=address)
    mail["To"] = to
    mail["Subject"] = " ".join(subject.split())  # one line: no header can be injected
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=address.rpartition("@")[2])
    mail.set_content(text, charset="utf-8")
    if attachment is not None:
        maintype, _, subtype = attachment.content_type.strip().lower().partition("/")
        if not (maintype and subtype) or maintype == "multipart":  # not a file's type
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=" ".join(attachment.filename.split()) or "attachment",  # one line
        )
    return mail.as_bytes()


def _address(to: str) -> str:
    """`to` as the address SES is given: refused here when SES would refuse it (and before a
    line break could reach a header). A domain beyond ASCII is sent as IDNA (punycode)."""
    local, _, domain = to.strip().rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    address = f"{local}@{domain}"
    if not local or not _ADDRESS.fullmatch(address):
        raise MailRejected(f"not an email address SES can send to: {to!r}")
    return address


def _said(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))
