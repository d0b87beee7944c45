"""What each route takes and answers is declared beside its handler (`http_handler(route,
Operation(...))`, api/http.py), and local/openapi.py reads those declarations from the
handlers' source without importing them. These tests hold the declarations to serverless.yml's
routes and the reading to what the handlers really declare."""

import importlib

import msgspec
import pytest

from api.http import TIME, Operation, Query
from database.models import MeetingOrSession, OwnUser
from local.openapi import declared_in, document, operations
from support import SERVICE

DECLARED = operations()


def test_every_route_has_one_declaration_beside_its_handler_and_no_other():
    routes = {(SERVICE.functions[route.function].module, route.key) for route in SERVICE.routes}
    declared = {(module, key) for module, found in DECLARED.items() for key in found}
    assert routes - declared == set(), "declare an Operation in the route's handler"
    assert declared - routes == set(), "an Operation for a route its function does not serve"


@pytest.mark.parametrize("module", sorted(DECLARED))
def test_the_source_reading_is_what_the_handler_declares(module):
    handler = importlib.import_module(module).handler
    assert {operation.route: operation for operation in handler.operations} == DECLARED[module]


def test_a_declaration_is_read_without_running_the_module():
    source = """
from api.http import TIME, Operation, Query, http_handler
from database.models import MeetingOrSession, OwnUser
import this_module_does_not_exist
raise SystemExit("the module's code never runs")
SINCE = Query("since", "From then on.", TIME)
handler = http_handler(
    lambda request: {},
    Operation("GET /x", "An x", response=OwnUser, query=(SINCE,)),
    Operation("PUT /x", "A y", request=OwnUser, response=MeetingOrSession, example={"a": 1}),
)
"""
    assert declared_in(source) == [
        Operation(
            "GET /x", "An x", response=OwnUser, query=(Query("since", "From then on.", TIME),)
        ),
        Operation("PUT /x", "A y", request=OwnUser, response=MeetingOrSession, example={"a": 1}),
    ]
    beside = """
import msgspec
from api.http import Operation
class Answer(msgspec.Struct):
    said: str
    times: int = 1
raise SystemExit
handler = (Operation("POST /y", "A y", request=Answer, response=Answer),)
"""
    (operation,) = declared_in(beside)
    assert operation.request is operation.response  # one class, however often it is named
    assert msgspec.convert({"said": "hi"}, operation.response).times == 1
    unknown = "from api.http import Operation\nOperation('GET /x', SUMMARY)\n"
    with pytest.raises(NameError, match="SUMMARY"):
        declared_in(unknown)


def test_the_document_publishes_each_declaration():
    published = document(SERVICE, "http://localhost")
    for route in SERVICE.routes:
        module = SERVICE.functions[route.function].module
        declared = DECLARED[module][route.key]
        operation = published["paths"][route.path][route.method.lower()]
        assert operation["summary"] == declared.summary
        query = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
        assert query == [parameter.name for parameter in declared.query]
        assert ("requestBody" in operation) == (declared.request is not None)
        assert ("content" in operation["responses"]["200"]) == (declared.response is not None)
