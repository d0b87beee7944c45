"""notifications/mail.py: one mail through SES API v2 (moto's, with local/mail.py's SES
refusals), read back as a mail client would (the stdlib's parser), and SES's failures sorted into
"retry later" and "never" by fault injection (botocore Stubber, and answers injected on the
wire so that the client's own retries and timeouts run)."""

import email
import email.policy
import io
import json

import pytest
import roles
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.ses.models import ses_backends

from database.settings import InvalidSetting
from local import iam
from notifications import mail

FROM = "ChessDojo <no-reply@example.org>"


@pytest.fixture
def ses(monkeypatch):
    """moto's SES with the stage's identity verified, and a stage that mails from it."""
    monkeypatch.setenv("MAIL_FROM", FROM)
    mail.ses.cache_clear()
    with mock_aws():
        mail.ses().create_email_identity(EmailIdentity="example.org")
        yield ses_backends["123456789012"]["us-east-1"]
    mail.ses.cache_clear()


def sent(backend) -> list[email.message.EmailMessage]:
    """The mails SES took, as a mail client reads them: its line ends (LF), not the wire's."""
    return [
        email.message_from_string(  # type: ignore[misc]
            message.raw_data.replace("\r\n", "\n"), policy=email.policy.default
        )
        for message in backend.sent_messages
    ]


def test_a_mail_reads_back_exactly_as_sent(ses):
    message_id = mail.send_mail("anna@example.com", "Reminder: your game", "See you at 19:00.\n")

    [message] = sent(ses)
    assert message_id == ses.sent_messages[0].id
    assert message["From"] == FROM
    assert message["To"] == "anna@example.com"
    assert message["Subject"] == "Reminder: your game"
    assert message["Date"] and message["Message-ID"]
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == "See you at 19:00.\n"
    assert ses.sent_messages[0].destinations[0] == "anna@example.com"


def test_names_subjects_and_text_beyond_ascii_survive_and_headers_stay_ascii(ses, monkeypatch):
    monkeypatch.setenv("MAIL_FROM", "Schachklub Zürich ♞ <no-reply@example.org>")
    subject = "Erinnerung: Partie mit Jürgen — Di 8. Dez., 19:00 (Europe/Berlin) 🕖"
    text = "Grüße aus Zürich!\nΚαλή παρτίδα — 良い対局を\n" + "lang " * 300 + "\n"

    mail.send_mail("jurgen@example.com", subject, text)

    raw = ses.sent_messages[0].raw_data
    assert raw.isascii()  # 7-bit on the wire: encoded words and a transfer encoding
    assert all(len(line) <= 998 for line in raw.split("\r\n"))  # RFC 5322's line limit
    [message] = sent(ses)
    assert message["Subject"] == subject
    assert message["From"].addresses[0].display_name == "Schachklub Zürich ♞"
    assert message["From"].addresses[0].addr_spec == "no-reply@example.org"
    assert message.get_content() == text


def test_a_subject_with_line_breaks_is_one_header_line(ses):
    mail.send_mail("anna@example.com", "Game\r\nBcc: eve@example.net", "x")

    [message] = sent(ses)
    assert message["Subject"] == "Game Bcc: eve@example.net"
    assert message["Bcc"] is None
    assert ses.sent_messages[0].destinations == ["anna@example.com", "anna@example.com"]


def test_an_attachment_arrives_byte_for_byte(ses):
    data = bytes(range(256)) * 40 + b"\r\n.\r\nEND:VCALENDAR\n"
    attachment = mail.Attachment("game.ics", "text/calendar", data)

    mail.send_mail("anna@example.com", "Your game", "Attached: the game.", attachment)

    [message] = sent(ses)
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(preferencelist=("plain",)).get_content() == "Attached: the game.\n"
    [part] = message.iter_attachments()
    assert part.get_filename() == "game.ics"
    assert part.get_content_type() == "text/calendar"
    assert part.get_payload(decode=True) == data


def test_a_non_ascii_attachment_name_survives(ses):
    attachment = mail.Attachment("Übersicht März.pdf", "application/pdf", b"%PDF-1.7\x00\xff")

    mail.send_mail("anna@example.com", "x", "y", attachment)

    [part] = sent(ses)[0].iter_attachments()
    assert part.get_filename() == "Übersicht März.pdf"
    assert part.get_payload(decode=True) == b"%PDF-1.7\x00\xff"


def test_an_attachment_without_a_usable_type_or_name_is_still_one_file(ses):
    attachment = mail.Attachment("a\r\nBcc: eve@example.net.txt", "calendar", b"data")

    mail.send_mail("anna@example.com", "x", "y", attachment)

    message = sent(ses)[0]
    assert message["Bcc"] is None
    [part] = message.iter_attachments()
    assert part.get_filename() == "a Bcc: eve@example.net.txt"
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_payload(decode=True) == b"data"


def test_an_international_domain_is_sent_as_punycode(ses):
    mail.send_mail("anna@bücher.example", "x", "y")

    assert sent(ses)[0]["To"] == "anna@xn--bcher-kva.example"


def test_a_sender_ses_has_not_verified_is_refused_for_good(ses, monkeypatch):
    monkeypatch.setenv("MAIL_FROM", "ChessDojo <no-reply@elsewhere.org>")

    with pytest.raises(mail.MailRejected, match="MessageRejected"):
        mail.send_mail("anna@example.com", "x", "y")
    assert ses.sent_messages == []


@pytest.mark.parametrize(
    "to",
    [
        "",
        "anna",
        "anna@",
        "@example.com",
        "an na@example.com",
        "anna@example.com\r\nBcc: e@x.org",
        "anna@localhost",
        "anna@exa_mple.com",
        "añna@example.com",
        "a@b@example.com",
    ],
)
def test_an_address_that_is_not_one_is_refused_before_ses(ses, to):
    with pytest.raises(mail.MailRejected, match="not an email address"):
        mail.send_mail(to, "x", "y")
    assert ses.sent_messages == []


def test_a_message_over_ses_size_limit_is_refused_without_uploading_it(ses, monkeypatch):
    assert mail.MAX_MESSAGE_BYTES == 40 * 1024 * 1024  # SES API v2's, as sent
    # The same rule at a thousandth of the size (40 MB of MIME cost seconds to build): an
    # attachment under the limit is over it as sent, base64 making 4 bytes of every 3.
    monkeypatch.setattr(mail, "MAX_MESSAGE_BYTES", 40 * 1024)
    huge = mail.Attachment("big.bin", "application/octet-stream", b"\0" * (31 * 1024))

    with pytest.raises(mail.MailRejected, match="over SES's"):
        mail.send_mail("anna@example.com", "x", "y", huge)  # 31 kB is ~42 kB in base64
    assert ses.sent_messages == []


def test_a_stage_without_mail_from_sends_nothing(ses, monkeypatch):
    monkeypatch.delenv("MAIL_FROM")

    assert mail.mail_enabled() is False
    with pytest.raises(mail.MailRejected, match="MAIL_FROM"):
        mail.send_mail("anna@example.com", "x", "y")


def test_a_stage_with_mail_from_sends(ses):
    assert mail.mail_enabled() is True


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAIL_FROM", "ChessDojo"),
        ("MAIL_FROM", "no-reply@"),
    ],
)
def test_a_bad_setting_fails_the_cold_start_naming_it(monkeypatch, variable, value):
    monkeypatch.setenv("MAIL_FROM", FROM)
    monkeypatch.setenv(variable, value)

    with pytest.raises(InvalidSetting, match=variable):
        mail.current()


def test_the_request_names_the_bare_from_address_and_no_identity_arn(ses):
    """No FromEmailAddressIdentityArn: it is for sending authorization only (a delegate using
    another account's identity), and SES authorises the From address's own identity."""
    with Stubber(mail.ses()) as stubber:
        stubber.add_response(
            "send_email",
            {"MessageId": "m-1"},
            {
                "FromEmailAddress": "no-reply@example.org",
                "Destination": {"ToAddresses": ["anna@example.com"]},
                "Content": {"Raw": {"Data": ANY}},
            },
        )
        assert mail.send_mail("anna@example.com", "x", "y") == "m-1"


def test_the_client_is_bounded_for_a_once_a_minute_job(ses):
    config = mail.ses().meta.config
    assert config.connect_timeout == 2
    assert config.read_timeout == 5
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("TooManyRequestsException", 429),
        ("Throttling", 400),
        ("LimitExceededException", 400),
        ("SendingPausedException", 400),
        ("InternalFailure", 500),
        ("ServiceUnavailable", 503),
        ("AccessDeniedException", 400),  # a deploy to fix, not this mail's fault
    ],
)
def test_what_ses_cannot_take_now_is_worth_retrying(ses, code, status):
    with Stubber(mail.ses()) as stubber:
        stubber.add_client_error("send_email", code, "no", status)
        with pytest.raises(mail.MailUnavailable, match=code):
            mail.send_mail("anna@example.com", "x", "y")


@pytest.mark.parametrize(
    "code",
    [
        "MessageRejected",
        "BadRequestException",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "NotFoundException",
        "InvalidParameterValue",
    ],
)
def test_what_ses_refuses_for_good_is_never_retried(ses, code):
    with Stubber(mail.ses()) as stubber:
        stubber.add_client_error("send_email", code, "no", 400)
        with pytest.raises(mail.MailRejected, match=code):
            mail.send_mail("anna@example.com", "x", "y")


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def stream(self, **kwargs):
        yield self._data.read()


def on_the_wire(answer):
    """Every SendEmail request the client sends meets `answer` (an exception to raise, or an
    HTTP status to answer with SES's JSON error) instead of the network; the attempts made."""
    attempts = []

    def send(request, **kwargs):
        attempts.append(request)
        if isinstance(answer, Exception):
            raise answer
        body = json.dumps({"message": "busy"}).encode()
        headers = {"x-amzn-ErrorType": "ServiceUnavailable", "content-type": "application/json"}
        return AWSResponse(request.url, answer, headers, _Body(body))

    mail.ses().meta.events.register_first("before-send.sesv2.SendEmail", send)
    return attempts


@pytest.mark.parametrize(
    "fault",
    [
        ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"),
        EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com"),
        503,
    ],
    ids=["read timeout", "connect timeout", "no connection", "503"],
)
def test_timeouts_and_outages_are_retried_once_then_left_for_later(ses, fault, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # the retry's backoff
    attempts = on_the_wire(fault)

    with pytest.raises(mail.MailUnavailable):
        mail.send_mail("anna@example.com", "x", "y")
    assert len(attempts) == 2  # the first, and one retry: the next run tries again


def test_a_function_role_must_grant_ses_send_email_on_the_identity(ses):
    """As on AWS (local/iam.py): the mail is authorised on its From address's identity."""
    identity = "arn:aws:ses:us-east-1:123456789012:identity/example.org"
    grant = {"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": [identity]}
    allowed = iam.Role("dojo-scheduler-test-mailer", "mailer-role", (grant,))
    elsewhere = {**grant, "Resource": ["arn:aws:ses:us-east-1:123456789012:identity/other.org"]}
    denied = iam.Role("dojo-scheduler-test-mailer", "mailer-role", (elsewhere,))

    with roles.running_as(allowed):
        mail.send_mail("anna@example.com", "x", "y")
    with roles.running_as(denied), pytest.raises(mail.MailUnavailable, match="AccessDenied"):
        mail.send_mail("anna@example.com", "x", "y")
    assert len(ses.sent_messages) == 1
