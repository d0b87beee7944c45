"""Mail through Amazon SES (v2), From the stage's `mailFrom` (MAIL_FROM).

A minimal version for the reminders (branch `reminders`): the mail helper's module (branch
`mail`) replaces it at merge, with this interface unchanged.
"""

import functools
import os
from dataclasses import dataclass
from email.message import EmailMessage

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# One send is bounded well below sendReminders' timeout: 2 attempts of 2 s connect + 5 s read.
CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5)
# SES's answers that a later attempt may get past; any other refusal is definitive.
_TRY_AGAIN = {
    "TooManyRequestsException",
    "LimitExceededException",
    "Throttling",
    "ThrottlingException",
    "SendingPausedException",
    "InternalFailure",
    "ServiceUnavailable",
}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


class MailUnavailable(Exception):
    """Not sent this time (throttled, 5xx, timeout, connection): retry later."""


class MailRejected(Exception):
    """SES refused it for good (bad address, unverified sender): never retry."""


def mail_from() -> str:
    return os.environ.get("MAIL_FROM", "")


def mail_enabled() -> bool:
    """The stage has a mailFrom (settings)."""
    return bool(mail_from())


@functools.cache
def ses():
    """The container's SES (v2) client (tests attach a botocore Stubber to it)."""
    return botocore.session.get_session().create_client("sesv2", config=CONFIG)


def send_mail(to: str, subject: str, text: str, attachment: Attachment | None = None) -> str:
    """Sends one text mail (with `attachment`, if any); SES's MessageId."""
    message = EmailMessage()
    message["From"] = mail_from()
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if attachment is not None:
        kind, _, sub = attachment.content_type.partition(";")[0].partition("/")
        message.add_attachment(
            attachment.data, maintype=kind, subtype=sub, filename=attachment.filename
        )
    try:
        answer = ses().send_email(
            FromEmailAddress=mail_from(),
            Destination={"ToAddresses": [to]},
            Content={"Raw": {"Data": message.as_bytes()}},
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _TRY_AGAIN or status >= 500:
            raise MailUnavailable(f"SES {code}: {error}") from error
        raise MailRejected(f"SES {code}: {error}") from error
    except BotoCoreError as error:  # timeouts, connection failures
        raise MailUnavailable(f"SES: {error}") from error
    return answer["MessageId"]
