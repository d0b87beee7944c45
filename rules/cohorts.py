"""Cohorts: the rating ranges players are grouped in, and which availabilities admit whom.

An availability lists the cohorts it admits, or ALL_COHORTS; a player who has not picked a
cohort yet ("") is admitted only where ALL_COHORTS is listed. `admitting` is that rule as the
list of entries that admit a player, so the search's filter (database/availabilities.py) and a
booking's check (`admits`) cannot disagree.
"""

from collections.abc import Sequence
from typing import Literal, get_args

from rules.errors import Invalid

# Each choice is written once, as the type msgspec validates with (database/models.py; a type
# checker reads only literal values there), and listed from it: ranges of rating, in order,
# each starting where the one before ends, the last open-ended.
Cohort = Literal[
    "0-400", "400-600", "600-700",
    "700-800", "800-900", "900-1000", "1000-1100", "1100-1200", "1200-1300", "1300-1400",
    "1400-1500", "1500-1600", "1600-1700", "1700-1800", "1800-1900", "1900-2000", "2000-2100",
    "2100-2200", "2200-2300", "2300-2400",
    "2400+",
]  # fmt: skip
COHORTS: tuple[Cohort, ...] = get_args(Cohort)
ALL_COHORTS = "ALL_COHORTS"


def admitting(cohort: str) -> tuple[str, ...]:
    """The entries of an availability's `cohorts` that admit a player of `cohort` ("": none
    picked yet): any one of them is enough."""
    return (ALL_COHORTS, cohort) if cohort else (ALL_COHORTS,)


def admits(cohorts: Sequence[str], cohort: str) -> bool:
    """Whether an availability listing `cohorts` admits a player of `cohort`."""
    return any(entry in cohorts for entry in admitting(cohort))


def check_admitted(cohorts: Sequence[str], cohort: str, what: str = "availability") -> None:
    """Invalid unless an availability (or a group `session`) listing `cohorts` admits `cohort`."""
    if not admits(cohorts, cohort):
        raise Invalid(f"Your cohort is not accepted by this {what}")
