"""The bench writes its result tables into the doc they belong to, docs/performance.md, between
marker comments (`<!-- bench:cold -->` … `<!-- /bench:cold -->`), stamped with the command, the
date and the commit measured: every figure there comes from a command, never from a hand copy,
and says which code it describes. Only what lies between a section's markers is replaced. A
marker is a line of its own: the doc's prose may name one (as this docstring does) in passing.
"""

import re
import subprocess
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"


class MissingMarkers(Exception):
    """The doc has no `<!-- bench:NAME -->` … `<!-- /bench:NAME -->` pair to write into."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def check(name: str, doc: Path = DOC) -> None:
    """Fails before a bench spends minutes measuring, rather than after."""
    _split(doc.read_text(), name, doc)


def write(
    name: str, body: str, *, command: str, code: str, when: datetime, doc: Path = DOC
) -> None:
    """Replaces section `name` of `doc` with `body`, under a line saying by which command, when
    and on which code it was measured. Headings in `body` move two levels down (`## Warm` becomes
    `#### Warm`), to sit under the doc's own."""
    before, _, after = _split(doc.read_text(), name, doc)
    start, end = markers(name)
    stamp = f"*Written by `{command}` on {when:%Y-%m-%d %H:%M} UTC; code at {code}.*"
    body = "\n".join(f"##{line}" if line.startswith("#") else line for line in body.splitlines())
    doc.write_text(f"{before}{start}\n{stamp}\n\n{body.strip()}\n{end}{after}")


def revision() -> str:
    """The commit measured, and whether the product code differed from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return "an unknown revision"
    product = [  # the functions' code: every top-level package but the stack's and the bench's
        init.parent.name
        for init in ROOT.glob("*/__init__.py")
        if init.parent.name not in ("bench", "local")
    ]
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", *product, "requirements.txt", "serverless.yml"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"`{head.stdout.strip()}`" + (" + uncommitted changes" if dirty else "")


def _split(text: str, name: str, doc: Path) -> tuple[str, str, str]:
    start, end = markers(name)
    starts = [m.start() for m in re.finditer(f"^{re.escape(start)}$", text, re.MULTILINE)]
    ends = [m.start() for m in re.finditer(f"^{re.escape(end)}$", text, re.MULTILINE)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise MissingMarkers(f"{doc} needs one `{start}` … `{end}` pair, each on a line of its own")
    return text[: starts[0]], text[starts[0] + len(start) : ends[0]], text[ends[0] + len(end) :]
