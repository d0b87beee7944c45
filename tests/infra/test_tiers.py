"""The tiers (docs/testing.md): each test in the folder of its tier, `-m TIER` selecting that
folder exactly, tests/unit free of moto, and the fast profile's share of hypothesis examples."""

import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
TIERS = ("unit", "handlers", "local", "e2e", "infra")


def collected(*args: str) -> list[str]:
    """The node ids `pytest --collect-only` finds with `args`."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider", *args],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return [line for line in run.stdout.splitlines() if "::" in line]


def test_every_test_file_is_in_a_tier_folder():
    misplaced = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("test_*.py")
        if path.relative_to(TESTS).parts[0] not in TIERS
    ]
    assert misplaced == []


@pytest.mark.parametrize("tier", ["unit", "local"])
def test_a_tiers_marker_selects_its_folder_exactly(tier):
    everything = collected(f"tests/{tier}")
    assert everything
    assert collected("-m", tier, f"tests/{tier}", "tests/infra/test_tiers.py") == everything


def test_a_unit_test_on_moto_tables_fails(tmp_path):
    unit = TESTS / "unit" / f"test_tier_probe_{tmp_path.name}.py"
    unit.write_text("def test_probe(tables):\n    pass\n")
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(unit)],
            cwd=TESTS.parent,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        unit.unlink()
    assert run.returncode == 1, run.stdout
    assert "belongs in tests/handlers" in run.stdout


@pytest.mark.parametrize("profile, examples", [("default", 400), ("ci", 400), ("fast", 40)])
def test_the_fast_profile_runs_a_tenth_of_the_examples(profile, examples):
    script = (
        "import sys; sys.path[:0] = ['.', 'tests']\n"
        "import conftest, support\n"
        "from hypothesis import settings\n"
        f"settings.load_profile({profile!r})\n"
        "print(support.hypothesis_examples(400), support.hypothesis_examples(1))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=TESTS.parent, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(examples), "1"]


def test_no_two_test_files_share_a_name():
    """The tiers have no __init__.py: pytest imports each file by its name, and a second file of
    that name in another tier stops the whole collection ("import file mismatch")."""
    names = [path.name for path in TESTS.rglob("test_*.py")]
    assert sorted({name for name in names if names.count(name) > 1}) == []
