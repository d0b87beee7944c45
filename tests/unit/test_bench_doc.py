"""The bench writes its tables into docs/performance.md between marker comments, stamped with
the command, the date and the commit: checked here on a small fake result, no bench run."""

from datetime import UTC, datetime

import pytest

from bench import doc

WHEN = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
FAKE = """Code at `abc1234`; 2 interleaved cold rounds.

| handler | cold ms |
|---|---|
| user/get | 400 |

## Warm: our code versus botocore

| handler | request |
|---|---|
| user/get | 1300 |
"""


def _doc(tmp_path, middle: str = "the previous run's table\n"):
    path = tmp_path / "performance.md"
    path.write_text(
        "# Performance\n\nWhy the figures are what they are.\n\n## Latest run\n\n"
        f"<!-- bench:cold -->\n{middle}<!-- /bench:cold -->\n\n"
        "## At scale\n\n<!-- bench:scale -->\nthe scale table\n<!-- /bench:scale -->\n\nThe end.\n"
    )
    return path


def test_the_section_between_its_markers_is_replaced_and_stamped(tmp_path):
    path = _doc(tmp_path)
    doc.write("cold", FAKE, command="python -m bench", code="`abc1234`", when=WHEN, doc=path)
    text = path.read_text()
    expected_section = (
        "<!-- bench:cold -->\n"
        "*Written by `python -m bench` on 2030-01-02 03:04 UTC; code at `abc1234`.*\n\n"
        "Code at `abc1234`; 2 interleaved cold rounds.\n\n"
        "| handler | cold ms |\n|---|---|\n| user/get | 400 |\n\n"
        "#### Warm: our code versus botocore\n\n"  # under the doc's own `## Latest run`
        "| handler | request |\n|---|---|\n| user/get | 1300 |\n"
        "<!-- /bench:cold -->"
    )
    assert expected_section in text
    assert "the previous run's table" not in text
    # everything outside the section is as it was, the other section included
    assert text.startswith(
        "# Performance\n\nWhy the figures are what they are.\n\n## Latest run\n\n"
    )
    assert text.endswith(
        "<!-- /bench:cold -->\n\n"
        "## At scale\n\n<!-- bench:scale -->\nthe scale table\n<!-- /bench:scale -->\n\nThe end.\n"
    )


def test_a_second_run_replaces_the_first(tmp_path):
    path = _doc(tmp_path)
    doc.write("cold", FAKE, command="python -m bench", code="`abc1234`", when=WHEN, doc=path)
    once = path.read_text()
    doc.write("cold", FAKE, command="python -m bench", code="`abc1234`", when=WHEN, doc=path)
    assert path.read_text() == once
    doc.write("cold", "| x |\n", command="python -m bench", code="`def5678`", when=WHEN, doc=path)
    text = path.read_text()
    assert text.count("<!-- bench:cold -->") == 1
    assert "`def5678`" in text and "`abc1234`" not in text


def test_prose_that_names_a_marker_is_not_the_marker(tmp_path):
    """docs/performance.md's introduction names `<!-- bench:cold -->` in passing: a run once took
    that for the section's start and replaced the introduction with its tables."""
    path = _doc(tmp_path)
    prose = "Each bench writes between markers (`<!-- bench:cold -->` … `<!-- /bench:cold -->`).\n"
    path.write_text(prose + path.read_text())
    doc.write("cold", FAKE, command="python -m bench", code="`abc1234`", when=WHEN, doc=path)
    text = path.read_text()
    assert text.startswith(prose + "# Performance\n\nWhy the figures are what they are.\n")
    assert "the previous run's table" not in text and "code at `abc1234`" in text


@pytest.mark.parametrize(
    "text",
    [
        "no markers at all\n",
        "the prose names `<!-- bench:cold -->` and `<!-- /bench:cold -->` only\n",
        "<!-- /bench:cold -->\n<!-- bench:cold -->\nclosed before opened\n",
        "<!-- bench:cold -->\nopened, never closed\n",
        "<!-- bench:cold -->\n<!-- /bench:cold -->\n<!-- bench:cold -->\n<!-- /bench:cold -->\n",
    ],
)
def test_a_doc_without_one_pair_of_markers_is_refused_before_measuring(tmp_path, text):
    path = tmp_path / "performance.md"
    path.write_text(text)
    with pytest.raises(doc.MissingMarkers, match="bench:cold"):
        doc.check("cold", doc=path)
    with pytest.raises(doc.MissingMarkers):
        doc.write("cold", FAKE, command="python -m bench", code="`a`", when=WHEN, doc=path)
    assert path.read_text() == text  # nothing written


@pytest.mark.parametrize("name", ["cold", "scale", "day"])
def test_the_real_doc_has_each_benchs_markers(name):
    doc.check(name)  # make bench, make bench-scale and make bench-day write there
