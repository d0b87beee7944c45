"""Mail on a running `make run`: what a function sends through SES (notifications/mail.py, in a
process of its own with the functions' AWS settings: the stack's moto) shows in `GET
/_local/mail`, the stage's identity is verified as a deploy finds it, and SES's refusals hold.
(The reminders' own mail through `POST /_local/schedule/sendReminders` is sendReminders' test.)"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_stack import running_stack

ROOT = Path(__file__).resolve().parents[2]
LOCAL_STAGE = (ROOT / "config" / "local.yml").read_text()
MAIL_FROM = re.search(r"^mailFrom: '(.+)'$", LOCAL_STAGE, re.M)[1]  # type: ignore[index]

SEND = """
import json, sys
from notifications import mail
to, subject, text, attachment = json.loads(sys.argv[1])
if attachment:
    attachment = mail.Attachment(attachment[0], attachment[1], attachment[2].encode())
try:
    print(json.dumps({"id": mail.send_mail(to, subject, text, attachment)}))
except mail.MailError as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("local-mail")) as started:
        yield started


def banner(stack) -> str:
    deadline = time.monotonic() + 30
    while "is running locally" not in (output := stack.output.read_text()):
        assert time.monotonic() < deadline, output
        time.sleep(0.2)
    return output


def send(stack, to, subject, text, attachment=None, mail_from=MAIL_FROM) -> dict:
    """notifications/mail.py run as a function runs it: its own process, the stack's AWS."""
    moto = re.search(r"DynamoDB \(moto\)\s+(http://\S+)", banner(stack))[1]  # type: ignore[index]
    environment = {
        "PATH": "/usr/bin:/bin",
        "AWS_ENDPOINT_URL": moto,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MAIL_FROM": mail_from,
    }
    answer = subprocess.run(
        [sys.executable, "-c", SEND, json.dumps([to, subject, text, attachment])],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(answer.stdout)


def test_the_banner_names_the_mail_stand_in_and_the_sender(stack):
    line = next(line for line in banner(stack).splitlines() if line.startswith("  Mail"))
    assert f"{stack.config['apiUrl']}/_local/mail" in line
    assert MAIL_FROM in line


def test_a_mail_a_function_sends_shows_in_the_stand_in(stack):
    assert stack.call("DELETE", "/_local/mail")[0] == 200
    subject = "Reminder: Classical game with Jürgen, Tue 8 Dec 2026, 19:00 (Europe/Berlin)"
    sent = send(stack, "anna@example.com", subject, "See you at the board.\n")

    status, _, body = stack.call("GET", "/_local/mail")
    assert status == 200
    [message] = body["messages"]
    assert message["id"] == sent["id"]
    assert message["to"] == "anna@example.com"
    assert message["from"] == MAIL_FROM
    assert message["subject"] == subject
    assert message["text"] == "See you at the board.\n"
    assert message["time"]

    with_file = send(stack, "boris@example.com", "x", "y", ["game.ics", "text/calendar", "BEGIN"])
    attachments = stack.call("GET", "/_local/mail")[2]["messages"][-1]
    assert attachments["id"] == with_file["id"]
    assert attachments["attachments"] == [
        {"filename": "game.ics", "contentType": "text/calendar", "size": 5}
    ]

    status, _, body = stack.call("DELETE", "/_local/mail")
    assert (status, body) == (200, {"messages": []})
    assert stack.call("GET", "/_local/mail")[2] == {"messages": []}


def test_the_stack_refuses_what_ses_refuses(stack):
    stack.call("DELETE", "/_local/mail")
    unverified = send(stack, "anna@example.com", "x", "y", mail_from="Eve <eve@elsewhere.org>")
    assert unverified["error"] == "MailRejected"
    assert "MessageRejected" in unverified["message"]

    assert send(stack, "anna at example.com", "x", "y")["error"] == "MailRejected"
    assert stack.call("GET", "/_local/mail")[2] == {"messages": []}
