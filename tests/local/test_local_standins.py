"""The stand-ins' registry (local/standins.py, local/__main__.py's STAND_INS) is the one place a
stand-in is wired: `make run` and the console know none of them by name."""

import json
import re
from pathlib import Path

import pytest

from local import pages, standins
from local.__main__ import STAND_INS
from local.events import HttpRequest

LOCAL = Path(__file__).resolve().parents[2] / "local"
NAMES = [stand_in.name for stand_in in STAND_INS]


def test_each_stand_in_has_its_own_name_and_panel_under_it():
    assert len(set(NAMES)) == len(NAMES)
    for stand_in in STAND_INS:
        assert re.fullmatch(r"[a-z]+", stand_in.name)
        if stand_in.panel is not None:
            assert stand_in.panel.path == standins.path_of(stand_in.name)


def test_make_run_names_the_stand_ins_only_in_the_list():
    """Each stand-in module is used by local/__main__.py as `<module>.STAND_IN` (the list) and
    nothing else: no path, class or setting of one of them is wired there by hand."""
    source = (LOCAL / "__main__.py").read_text()
    modules = r"discord|payments|stripe\w*|shop|lichess|chesscom|mongo|local_tournaments|mail"
    by_hand = re.findall(rf"\b(?:{modules})\.(?!STAND_IN\b)\w+", source)
    assert by_hand == []
    for name in NAMES:
        assert f"/_local/{name}" not in source


def test_the_console_draws_the_registered_panels_and_no_other():
    html = (LOCAL / "static" / "console.html").read_text()
    script = (LOCAL / "static" / "console.js").read_text()
    for name in NAMES:
        assert f'id="{name}"' not in html  # no section written by hand
        assert f'show("{name}"' not in script  # nor read by hand
    panels = standins.console_panels(STAND_INS)
    page = pages.Pages({}, panels).console(
        HttpRequest("GET", "/_local/", [], b"", "127.0.0.1", "HTTP/1.1")
    )
    served = re.search(rb"const PANELS = (.*?);</script>", page.body).group(1)
    assert json.loads(served) == panels
    assert [p["id"] for p in panels] == [s.name for s in STAND_INS if s.panel]


def test_a_stand_in_may_not_mount_a_route_outside_its_prefix():
    class Stray:
        name = "mail"

    mine = standins.Started(routes={"/_local/mail/outbox": (print, "mail")})
    assert standins.check(Stray(), mine) is mine
    for route in ("/_local/discord", "/_local/mailbox", "/payments/webhook"):
        with pytest.raises(ValueError, match=route):
            standins.check(Stray(), standins.Started(routes={route: (print, "mail")}))
