"""The mail stand-in for `make run`: every mail the stack sends, under `/_local/mail`.

The functions send through SES (notifications/mail.py: SES API v2 `SendEmail`, a raw MIME
message) with their own boto3 client, which `make run` points at the embedded moto
(AWS_ENDPOINT_URL) as for every AWS call; nothing of theirs knows a stand-in. moto keeps each
mail sent in its SES backend; this stand-in reads them there. At start it verifies the stage's
SES identity (config/<stage>.yml `sesIdentityArn`, with `mailFrom` an address of it) in moto, as
a deploy would have found it verified.

moto takes more than SES does: `install()` (a patch of moto's, listed in local/moto_patches.py,
so the handler tests' moto refuses the same) makes its SendEmail refuse, with SES's answers,
what SES refuses beyond moto's own refusal of an unverified sender: a message over SES API v2's
40 MB, one without a From header or without any recipient, and an address that is not one
(moto takes `a b@c`). It also notes when each mail was sent, and keeps the latest MAX_MESSAGES.

Control routes:
- `GET /_local/mail`: `{"messages": [{"id", "from", "to", "subject", "text", "time",
  "attachments": [{"filename", "contentType", "size"}]}]}`, oldest first;
- `DELETE /_local/mail`: forgets them.
"""

import base64
import binascii
import email
import email.policy
import json
import logging
import re
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr
from typing import Any

from moto.ses.exceptions import MessageRejectedError, SesError

from local.events import HttpRequest, HttpResponse, json_response
from local.serverless import REGION
from local.standins import Context, Panel, Started

log = logging.getLogger("local")

PATH = "/_local/mail"
ACCOUNT_ID = "123456789012"  # moto's default account (as local.serverless)
# SES API v2's largest message, attachments included, as sent (after base64 encoding).
MAX_MESSAGE_BYTES = 40 * 1024 * 1024
MAX_MESSAGES = 5000  # kept for GET /_local/mail: a stack left running all day stays small
# An address SES takes: ASCII, a local part and a domain of dot-separated labels.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


# --- moto's SES, as strict as SES ----------------------------------------------------------


def install() -> None:
    """Patches moto's SES API v2 SendEmail (idempotent): SES's refusals, and each mail's time."""
    from moto.ses.models import SESBackend
    from moto.sesv2.responses import SESV2Response

    if getattr(SESV2Response.send_email, "_ses_strict", False):
        return
    send_email = SESV2Response.send_email
    send_raw_email = SESBackend.send_raw_email

    def strict_send_email(self: Any) -> str:
        _refuse_what_ses_refuses(json.loads(self.body or "{}"))
        return send_email(self)

    def timed_send_raw_email(self: Any, *args: Any, **kwargs: Any) -> Any:
        message = send_raw_email(self, *args, **kwargs)
        message.sent_at = datetime.now(UTC).isoformat()
        del self.sent_messages[:-MAX_MESSAGES]
        return message

    strict_send_email._ses_strict = True  # type: ignore[attr-defined]
    SESV2Response.send_email = strict_send_email  # type: ignore[method-assign]
    SESBackend.send_raw_email = timed_send_raw_email  # type: ignore[method-assign]


def _refuse_what_ses_refuses(params: dict[str, Any]) -> None:
    raw = (params.get("Content") or {}).get("Raw")
    if not isinstance(raw, dict):
        return  # Simple and Template content: moto's own checks
    try:
        data = base64.b64decode(raw.get("Data") or "", validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestException("Raw.Data is not base64") from None
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageRejectedError(f"Message length is more than {MAX_MESSAGE_BYTES} bytes long")
    message = email.message_from_bytes(data, policy=email.policy.default)
    if message["From"] is None:
        raise MessageRejectedError("Missing required header 'From'.")
    destination = params.get("Destination") or {}
    listed = [
        a
        for kind in ("ToAddresses", "CcAddresses", "BccAddresses")
        for a in destination.get(kind) or []
    ]
    in_headers = [
        a
        for _, a in getaddresses(
            [str(v) for v in message.get_all("To", []) + message.get_all("Cc", [])]
        )
    ]
    recipients = listed or in_headers
    if not recipients:
        raise MessageRejectedError("Recipient address required")
    for address in [params.get("FromEmailAddress") or str(message["From"]), *recipients]:
        if not _ADDRESS.fullmatch(parseaddr(address)[1]):
            raise BadRequestException(f"Illegal address: {address}")


class BadRequestException(SesError):
    """SES API v2's answer to an invalid input (moto's SES has only API v1's names)."""

    code = "BadRequestException"


# --- the control routes --------------------------------------------------------------------


def _backend() -> Any:
    from moto.ses.models import ses_backends

    return ses_backends[ACCOUNT_ID][REGION]


def sent() -> list[dict[str, Any]]:
    """Every mail moto's SES took (the latest MAX_MESSAGES), oldest first."""
    return [_shown(message) for message in list(_backend().sent_messages)]


def _shown(message: Any) -> dict[str, Any]:
    raw = getattr(message, "raw_data", None)
    if raw is None:  # Simple content: moto keeps its parts
        to = ", ".join(sum((message.destinations or {}).values(), []))
        return {
            "id": message.id,
            "from": message.source,
            "to": to,
            "subject": message.subject,
            "text": message.body,
            "time": getattr(message, "sent_at", None),
            "attachments": [],
        }
    # Read as a mail client stores it: with its own line ends (LF), not SMTP's (CRLF).
    mime = email.message_from_string(raw.replace("\r\n", "\n"), policy=email.policy.default)
    body = mime.get_body(preferencelist=("plain",))
    return {
        "id": message.id,
        "from": str(mime["From"] or message.source),
        "to": ", ".join(address for _, address in getaddresses([str(mime["To"] or "")])),
        "subject": str(mime["Subject"] or ""),
        "text": body.get_content() if body is not None else "",  # type: ignore[union-attr]
        "time": getattr(message, "sent_at", None),
        "attachments": [
            {
                "filename": part.get_filename(),
                "contentType": part.get_content_type(),
                "size": len(part.get_payload(decode=True) or b""),
            }
            for part in mime.iter_attachments()  # type: ignore[union-attr]
        ],
    }


def handle(request: HttpRequest) -> HttpResponse:
    if request.raw_path.rstrip("/") != PATH:
        return json_response(404, {"message": "Not Found"})
    if request.method == "GET":
        return json_response(200, {"messages": sent()})
    if request.method == "DELETE":
        _backend().sent_messages.clear()
        return json_response(200, {"messages": []})
    return json_response(405, {"message": "Method Not Allowed"})


# --- the plug ------------------------------------------------------------------------------


def identity(service: Any) -> tuple[str, str]:
    """The stage's SES identity (a domain or an address) and From address, from what the deploy
    reads (config/<stage>.yml through custom.operations.sesMail); ("", "") without mail."""
    ses_mail = ((service.document.get("custom") or {}).get("operations") or {}).get("sesMail")
    arn = str((ses_mail or {}).get("identityArn") or "")
    return arn.partition(":identity/")[2], str((ses_mail or {}).get("from") or "")


class Mail:
    """Its plug (local/standins.py): always on; without a `mailFrom` in config/local.yml the
    stage sends no mail and the route says so by answering an empty list."""

    name = "mail"
    feature = None
    panel = Panel("Mail: messages sent", PATH, "", render="mail")

    def requested(self) -> bool:
        return True

    def start(self, context: Context) -> Started:
        import boto3  # the stack's process only; moto through AWS_ENDPOINT_URL

        install()
        name, mail_from = identity(context.service)
        if name:  # verified, as the deploy found it (SES verifies by DNS or a link)
            boto3.client("sesv2").create_email_identity(EmailIdentity=name)
        sender = f"from {mail_from}" if mail_from else "this stage sends none: no mailFrom"
        line = f"{context.api_url}{PATH} (what the stack mailed, {sender}; SES in moto)"
        return Started(routes={PATH: (handle, "mail stand-in")}, banner=[("Mail", line)])


STAND_IN = Mail()
