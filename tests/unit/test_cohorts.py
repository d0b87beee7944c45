"""Cohorts (rules/cohorts.py): the rating ranges, and which availabilities admit whom."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.cohorts import ALL_COHORTS, COHORTS, admits, admitting, check_admitted
from rules.errors import Invalid

listed = st.lists(st.sampled_from([*COHORTS, ALL_COHORTS]), unique=True, min_size=1)
players = st.sampled_from([*COHORTS, ""])  # "": no cohort picked yet


def test_the_cohorts_are_contiguous_rating_ranges_in_order():
    bounds = [re.fullmatch(r"(\d+)(?:-(\d+)|\+)", cohort) for cohort in COHORTS]
    assert all(bounds), COHORTS
    lows = [int(b[1]) for b in bounds if b]
    highs = [int(b[2]) if b and b[2] else None for b in bounds]
    assert lows[0] == 0 and highs[-1] is None  # from 0, the last open-ended
    assert all(low < high for low, high in zip(lows[:-1], highs[:-1], strict=True) if high)
    assert highs[:-1] == lows[1:]  # each starts where the one before ends


@given(listed, players)
def test_an_availability_admits_its_cohorts_or_everyone(cohorts, cohort):
    expected = ALL_COHORTS in cohorts or (cohort != "" and cohort in cohorts)
    assert admits(cohorts, cohort) == expected
    # the search's filter is the same rule: some entry of `admitting` is listed
    assert admits(cohorts, cohort) == bool(set(admitting(cohort)) & set(cohorts))


@given(listed)
def test_a_player_without_a_cohort_is_admitted_only_by_all_cohorts(cohorts):
    assert admitting("") == (ALL_COHORTS,)
    assert admits(cohorts, "") == (ALL_COHORTS in cohorts)


@given(st.sampled_from(COHORTS), st.sampled_from(COHORTS))
def test_one_cohort_admits_no_other(listed_one, cohort):
    assert admits([listed_one], cohort) == (listed_one == cohort)


def test_a_refusal_names_what_the_player_tried():
    check_admitted([ALL_COHORTS], "")
    with pytest.raises(Invalid, match="^Your cohort is not accepted by this availability$"):
        check_admitted(["0-400"], "1500-1600")
    with pytest.raises(Invalid, match="^Your cohort is not accepted by this session$"):
        check_admitted(["0-400"], "", "session")
