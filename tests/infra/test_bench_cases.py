"""`make bench` measures real functions: each case names a function of serverless.yml and that
function's own handler, and a feature's settings stay in its own cases."""

from bench.cases import CASES, env_groups
from support import SERVICE


def test_each_case_is_a_function_of_serverless_yml_and_its_handler():
    for case in CASES:
        assert case.function in SERVICE.functions, case.name
        assert SERVICE.functions[case.function].module == case.module, case.name


def test_the_version_1_functions_are_measured_without_any_feature():
    assert env_groups()[0] == {}
    assert all(case.env == {} for case in CASES if case.original is not None)
