"""`make run` with every feature on: what it serves under /_local/ and says in its banner about
the stand-ins comes from the registered ones (local/__main__.py's STAND_INS), and each console
panel reads a route that answers."""

import re
import time

import pytest
from local_stack import running_stack

from local.__main__ import STAND_INS

CONTROLS = {"", "docs", "stats", "cognito", "openapi.json"}  # the stack's own pages and routes


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    features = {"TOURNAMENTS": "1", "MEMBERSHIP": "1"}  # payments are on unless told off
    with running_stack(tmp_path_factory.mktemp("local-standins"), features) as started:
        yield started


def banner(stack) -> list[str]:
    deadline = time.monotonic() + 30
    while "is running locally" not in (output := stack.output.read_text()):
        assert time.monotonic() < deadline, output
        time.sleep(0.2)
    lines = output.split("is running locally", 1)[1].splitlines()[1:]
    return [line for line in lines if line.startswith("  ")]


def test_every_panel_reads_a_route_that_answers(stack):
    for stand_in in STAND_INS:
        if stand_in.panel is not None:
            status, _, body = stack.call("GET", stand_in.panel.path)
            assert status == 200, (stand_in.name, body)


def test_the_banner_names_under_local_only_the_stack_and_its_stand_ins(stack):
    named = {m for line in banner(stack) for m in re.findall(r"/_local/([\w.]*)", line)}
    names = {stand_in.name for stand_in in STAND_INS}
    assert named - CONTROLS <= names
    assert {s.name for s in STAND_INS if s.panel} <= named
    # The bot's MongoDB: its banner line is its own URL; its route is served too.
    assert stack.call("GET", "/_local/mongo/Lisebot-database/players")[0] == 200
