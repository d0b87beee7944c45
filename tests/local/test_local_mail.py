"""The mail stand-in (local/mail.py): moto's SES refuses what SES refuses (its patch, installed
for every test by conftest.py through local/moto_patches.py), `GET /_local/mail` shows what the
stack mailed and `DELETE` forgets it, and its plug verifies the stage's identity at start."""

import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.ses.models import ses_backends

from local import mail as stand_in
from local import standins
from local.events import HttpRequest
from local.serverless import Service
from notifications import mail

LOCAL = Path(__file__).resolve().parents[2] / "local"
SENDER = "no-reply@example.org"
PLAIN = (
    b"From: ChessDojo <no-reply@example.org>\r\nTo: anna@example.com\r\nSubject: Hi\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n"
)


@pytest.fixture
def ses(monkeypatch):
    monkeypatch.setenv("MAIL_FROM", f"ChessDojo <{SENDER}>")
    mail.ses.cache_clear()
    with mock_aws():
        client = boto3.client("sesv2", region_name="us-east-1")
        client.create_email_identity(EmailIdentity="example.org")
        yield client
    mail.ses.cache_clear()


def request(method: str, path: str = stand_in.PATH) -> HttpRequest:
    return HttpRequest(method, path, [], b"", "127.0.0.1", "HTTP/1.1")


def messages() -> list[dict]:
    answer = stand_in.handle(request("GET"))
    assert answer.status == 200
    return json.loads(answer.body)["messages"]


def send_raw(client, raw: bytes, **fields):
    return client.send_email(
        **{"FromEmailAddress": SENDER, "Destination": {"ToAddresses": ["anna@example.com"]}}
        | fields,
        Content={"Raw": {"Data": raw}},
    )


def refusal(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


# --- moto's SES as strict as SES --------------------------------------------------------


def test_a_message_over_40_mb_is_refused(ses):
    big = PLAIN + b"x" * (stand_in.MAX_MESSAGE_BYTES - len(PLAIN) + 1)

    assert refusal(lambda: send_raw(ses, big))[0] == "MessageRejected"
    assert messages() == []
    send_raw(ses, big[:-1])  # exactly the limit goes
    assert len(messages()) == 1


def test_a_message_without_a_from_header_is_refused(ses):
    raw = PLAIN.replace(b"From: ChessDojo <no-reply@example.org>\r\n", b"")

    assert refusal(lambda: send_raw(ses, raw)) == (
        "MessageRejected",
        "Missing required header 'From'.",
    )


def test_a_message_without_any_recipient_is_refused(ses):
    raw = PLAIN.replace(b"To: anna@example.com\r\n", b"")

    code, _ = refusal(lambda: send_raw(ses, raw, Destination={}))
    assert code == "MessageRejected"
    assert messages() == []


@pytest.mark.parametrize("address", ["an na@example.com", "anna@example", "anna", "anna@@x.org"])
def test_an_address_that_is_not_one_is_refused(ses, address):
    code, message = refusal(lambda: send_raw(ses, PLAIN, Destination={"ToAddresses": [address]}))
    assert code in ("BadRequestException", "InvalidParameterValue")
    assert messages() == []


def test_a_sender_not_verified_is_refused(ses):
    raw = PLAIN.replace(b"example.org", b"elsewhere.org")

    code, message = refusal(lambda: send_raw(ses, raw, FromEmailAddress="x@elsewhere.org"))
    assert code == "MessageRejected"
    assert "x@elsewhere.org" in message


# --- the control routes -----------------------------------------------------------------


def test_get_shows_every_mail_sent_and_delete_forgets_them(ses):
    ics = mail.Attachment("game.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    first = mail.send_mail(
        "anna@example.com", "Reminder: Jürgen at 19:00", "See you.\nBring a clock."
    )
    second = mail.send_mail("boris@example.com", "Your game", "Attached.", ics)

    shown = messages()
    assert [m["id"] for m in shown] == [first, second]
    assert shown[0] | {"time": None} == {
        "id": first,
        "from": f"ChessDojo <{SENDER}>",
        "to": "anna@example.com",
        "subject": "Reminder: Jürgen at 19:00",
        "text": "See you.\nBring a clock.\n",
        "time": None,
        "attachments": [],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", shown[0]["time"])
    assert shown[0]["time"] <= shown[1]["time"]
    assert shown[1]["attachments"] == [
        {"filename": "game.ics", "contentType": "text/calendar", "size": len(ics.data)}
    ]

    assert stand_in.handle(request("DELETE")).status == 200
    assert messages() == []


def test_only_the_latest_mails_are_kept(ses, monkeypatch):
    monkeypatch.setattr(stand_in, "MAX_MESSAGES", 3)
    for n in range(5):
        mail.send_mail("anna@example.com", f"mail {n}", "x")

    assert [m["subject"] for m in messages()] == ["mail 2", "mail 3", "mail 4"]


def test_other_methods_and_paths_are_refused(ses):
    assert stand_in.handle(request("POST")).status == 405
    assert stand_in.handle(request("GET", stand_in.PATH + "/outbox")).status == 404


# --- the plug ---------------------------------------------------------------------------


def service(identity_arn: str, mail_from: str) -> Service:
    ses_mail = {"identityArn": identity_arn, "from": mail_from}
    return Service("dojo-scheduler", "local", {"custom": {"operations": {"sesMail": ses_mail}}})


def test_start_verifies_the_stage_identity_as_a_deploy_finds_it():
    with mock_aws():
        stage = service(
            "arn:aws:ses:us-east-1:123456789012:identity/club.example", "Club <hi@club.example>"
        )
        context = standins.Context(stage, {}, "http://127.0.0.1:4000")
        started = standins.check(stand_in.STAND_IN, stand_in.STAND_IN.start(context))

        client = boto3.client("sesv2", region_name="us-east-1")
        names = [i["IdentityName"] for i in client.list_email_identities()["EmailIdentities"]]
        assert names == ["club.example"]
        send_raw(
            client,
            PLAIN.replace(b"example.org", b"club.example"),
            FromEmailAddress="hi@club.example",
        )
        assert len(ses_backends["123456789012"]["us-east-1"].sent_messages) == 1
    assert list(started.routes) == [stand_in.PATH]
    [(label, line)] = started.banner
    assert label == "Mail"
    assert "http://127.0.0.1:4000/_local/mail" in line and "Club <hi@club.example>" in line


def test_a_stage_without_mail_verifies_nothing_and_says_so():
    with mock_aws():
        context = standins.Context(service("", ""), {}, "http://127.0.0.1:4000")
        started = stand_in.STAND_IN.start(context)

        client = boto3.client("sesv2", region_name="us-east-1")
        assert client.list_email_identities()["EmailIdentities"] == []
    assert "no mailFrom" in started.banner[0][1]


def test_the_local_stage_mails_from_its_verified_identity():
    """config/local.yml (and test.yml, in step) name an identity and an address of it."""
    root = LOCAL.parent
    for stage in ("local", "test"):
        text = (root / "config" / f"{stage}.yml").read_text()
        arn = re.search(r"^sesIdentityArn: '(.+)'$", text, re.M)[1]
        sender = re.search(r"^mailFrom: '(.+)'$", text, re.M)[1]
        assert re.search(r"<[^@]+@(.+)>", sender)[1] == arn.rpartition("/")[2], stage


def test_the_console_draws_the_mail_panel_with_its_own_renderer():
    script = (LOCAL / "static" / "console.js").read_text()
    assert stand_in.STAND_IN.panel.render == "mail"
    assert re.search(r"const RENDERERS = \{[^}]*\bmail\b", script)
    assert 'call("DELETE", "/_local/mail")' in script
    panels = standins.console_panels([stand_in.STAND_IN])
    assert panels == [
        {
            "id": "mail",
            "title": "Mail: messages sent",
            "path": "/_local/mail",
            "off": "",
            "render": "mail",
        }
    ]


def test_a_raw_message_moto_would_not_decode_is_refused_as_ses_would(ses):
    """The request's Raw.Data must be base64 (boto3 encodes it; another client may not)."""
    from moto.sesv2.responses import SESV2Response

    class Request:
        body = json.dumps({"FromEmailAddress": SENDER, "Content": {"Raw": {"Data": "not base64!"}}})

    with pytest.raises(stand_in.BadRequestException):
        SESV2Response.send_email(Request())  # type: ignore[arg-type]
