"""An OpenAPI 3.1 description of the API: the paths are serverless.yml's routes (the framework's
reading, local/serverless.py); what each takes and answers is the `Operation` its handler
declares beside its code (`http_handler(route, Operation(...))`, api/http.py), with the
contract's msgspec Structs (database/models.py), the ones the functions validate bodies with.
Local tooling only: no handler imports it.

The declarations are read from the handlers' source, never by importing a handler: a handler's
imports read its function's settings (table names, at cold start), which the process building
the document need not have. Each `Operation(...)` call in a handler module is evaluated with
only the names it uses: those the module imports from modules that are safe to import
(api.http, database.models) and the module's own constants.
"""

import ast
import builtins
import importlib
import re
import typing
from pathlib import Path
from typing import Any

import msgspec

from api.http import Operation
from database.models import (
    ID_LENGTH,
    ID_PATTERN,
    MAX_USERNAME,
    PRICE_IS_ONE_TO_ONE,
    ZONE_MARK,
    Availability,
    ErrorBody,
    Meeting,
    schema_of,
)
from local.serverless import ROOT, Route, Service
from rules.zones import zone_names

# What a path parameter can be (api.http.Request.id and .username); anything else is a 404.
_PATH_PARAMETERS = {
    "id": {"type": "string", "minLength": ID_LENGTH, "maxLength": ID_LENGTH, "pattern": ID_PATTERN},
    "username": {"type": "string", "minLength": 1, "maxLength": MAX_USERNAME},
    "seriesId": {
        "type": "string",
        "minLength": ID_LENGTH,
        "maxLength": ID_LENGTH,
        "pattern": ID_PATTERN,
    },
}

# Per route, the links from its 200 response to the operations that use what it returned:
# they let a client (and schemathesis' stateful phase) go from an availability to booking it,
# to the meeting and to cancelling it. A link to a route serverless.yml does not have is left
# out.
_LINKS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "PUT /availability": {
        "BookIt": (
            "PUT /availability/book",
            {
                "requestBody": {
                    "owner": "$response.body#/owner",
                    "id": "$response.body#/id",
                    "startTime": "$response.body#/startTime",
                    "type": "$response.body#/types/0",
                }
            },
        ),
        "DeleteIt": (
            "DELETE /availability/{id}",
            {"parameters": {"path.id": "$response.body#/id"}},
        ),
    },
    "PUT /availability/book": {
        "TheMeeting": ("GET /meeting/{id}", {"parameters": {"path.id": "$response.body#/id"}}),
        "CancelIt": (
            "PUT /meeting/cancel/{id}",
            {"parameters": {"path.id": "$response.body#/id"}},
        ),
    },
}
_REF = "#/components/schemas/{name}"
_PARAMETER = re.compile(r"\{([^{}]+?)\+?\}")


def document(service: Service, server_url: str) -> dict[str, Any]:
    root = service.directory or ROOT
    declared = operations(root)
    # Every Struct a handler declares, whatever the stage's features: the contract's schemas.
    bodies = [
        body
        for module in declared.values()
        for operation in module.values()
        for body in (operation.request, operation.response)
        if body is not None
    ]
    unions = {id(body): body for body in bodies if _members(body)}
    structs = {body for body in bodies if not _members(body)}
    structs |= {member for union in unions.values() for member in _members(union)}
    structs = sorted(structs | {Meeting, Availability, ErrorBody}, key=lambda s: s.__name__)
    refs, schemas = msgspec.json.schema_components(
        structs, schema_hook=schema_of, ref_template=_REF
    )
    ref_of: dict[int, dict[str, Any]] = {
        id(struct): ref for struct, ref in zip(structs, refs, strict=True)
    }
    _zones_listed(schemas)
    if service.has_feature("payments"):
        schemas["Availability"].update(PRICE_IS_ONE_TO_ONE)
    else:
        _without_prices(schemas)
    for union in unions.values():
        meta = typing.get_args(union)[1]
        ref_of[id(union)] = {"$ref": _REF.format(name=meta.title)}
        schemas[meta.title] = {
            "title": meta.title,
            "description": meta.description,
            "anyOf": [ref_of[id(member)] for member in _members(union)],
        }
    paths: dict[str, dict[str, Any]] = {}
    operation_ids = {route.key: _operation_id(route) for route in service.routes}
    for route in service.routes:
        method = "x-amazon-apigateway-any-method" if route.method == "ANY" else route.method
        module = service.functions[route.function].module
        declaration = declared.get(module, {}).get(route.key)
        operation = _operation(route, declaration, lambda body: ref_of[id(body)])
        links = {
            name: {"operationId": operation_ids[target], **link}
            for name, (target, link) in _LINKS.get(route.key, {}).items()
            if target in operation_ids
        }
        if links:
            operation["responses"]["200"]["links"] = links
        paths.setdefault(route.path.replace("+}", "}"), {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": service.name, "version": service.stage},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "cognito": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito ID or access token of the user pool.",
                }
            },
        },
    }


def _zones_listed(node: Any) -> None:
    """A time-zone field (models.Zone) takes the names tzdata knows: published as its enum."""
    if isinstance(node, dict):
        if node.pop(ZONE_MARK, False):
            node["enum"] = sorted(zone_names())
        for value in node.values():
            _zones_listed(value)
    elif isinstance(node, list):
        for value in node:
            _zones_listed(value)


def _without_prices(schemas: dict[str, Any]) -> None:
    """A stage without payments accepts no `price` (400 "Payments are off"): say so. The
    property stays, as `false` (never valid): left out, a client could send any value."""
    schemas.pop("Price", None)
    for schema in schemas.values():
        properties = schema.get("properties") or {}
        if "price" in properties:
            properties["price"] = False


def _operation(route: Route, declared: Operation | None, ref_of) -> dict[str, Any]:
    # A route whose handler declares nothing is still listed, without schemas.
    declared = declared or Operation(route.key, route.function)
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_PARAMETERS.get(name, {"type": "string"}),
        }
        for name in _PARAMETER.findall(route.path)
    ] + [
        {
            "name": query.name,
            "in": "query",
            "description": query.description,
            "schema": query.schema,
        }
        for query in declared.query
    ]
    success: dict[str, Any] = {"description": "OK"}
    if declared.response is not None:
        success["content"] = _json(ref_of(declared.response))
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": declared.summary,
        "parameters": parameters,
        "responses": {
            "200": success,
            "default": {
                "description": "An error",
                "content": _json(ref_of(ErrorBody)),
            },
        },
    }
    if declared.request is not None:
        content = _json(ref_of(declared.request))
        if declared.example is not None:
            content["application/json"]["example"] = dict(declared.example)
        operation["requestBody"] = {"required": True, "content": content}
    if route.authorizer:
        operation["security"] = [{"cognito": list(route.scopes)}]
        operation["responses"]["401"] = {
            "description": "No valid token (answered by API Gateway)",
            "content": _json(
                {"type": "object", "properties": {"message": {"const": "Unauthorized"}}}
            ),
        }
    return operation


def _operation_id(route: Route) -> str:
    # Unique even when one function serves several routes (getUser: /user and /public/user).
    words = re.findall(r"[A-Za-z]+", route.key.replace("{", "by "))
    return words[0].lower() + "".join(word.capitalize() for word in words[1:])


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _members(body: Any) -> tuple[type, ...]:
    """The Structs of an `Annotated[A | B, Meta(title=...)]` answer (models.MeetingOrSession);
    () for a Struct."""
    if typing.get_origin(body) is not typing.Annotated:
        return ()
    return typing.get_args(typing.get_args(body)[0])


# --- the handlers' declarations, read from their source ----------------------------------


def operations(root: Path = ROOT) -> dict[str, dict[str, Operation]]:
    """Every `Operation` declared under root/handlers: module -> route key -> Operation."""
    declared: dict[str, dict[str, Operation]] = {}
    for path in sorted((root / "handlers").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        found = declared_in(path.read_text(), str(path))
        if found:
            declared[module] = {}
        for operation in found:
            if operation.route in declared[module]:
                raise ValueError(f"{path}: {operation.route} is declared twice")
            declared[module][operation.route] = operation
    return declared


def declared_in(source: str, filename: str = "<handler>") -> list[Operation]:
    """The `Operation(...)` calls of a handler module's source, evaluated without running the
    module: each name they use is the module's import of it (that module imported alone) or
    its own module-level constant."""
    tree = ast.parse(source, filename)
    imported: dict[str, tuple[str, str | None]] = {}
    constants: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.partition(".")[0]] = (
                    alias.name if alias.asname else alias.name.partition(".")[0],
                    None,
                )
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name) and node.value:
                constants[targets[0].id] = node.value
        elif isinstance(node, ast.ClassDef):  # a Struct declared beside its handler
            constants[node.name] = node
    values: dict[str, Any] = {}  # each name evaluated once: one class object per class

    def value(name: str) -> Any:
        if name not in values:
            values[name] = _value(name)
        return values[name]

    def _value(name: str) -> Any:
        if name in imported:
            module, attribute = imported[name]
            loaded = importlib.import_module(module)
            return loaded if attribute is None else getattr(loaded, attribute)
        if isinstance(constants.get(name), ast.ClassDef):
            namespace = names_in(constants[name], required=False)
            exec(compile(ast.Module([constants[name]], []), filename, "exec"), namespace)
            return namespace[name]
        if name in constants:
            return evaluate(constants[name])
        raise NameError(f"{filename}: {name} is neither imported nor a module constant")

    def names_in(node: ast.AST, required: bool = True) -> dict[str, Any]:
        """The module-level names `node` reads, evaluated (a class body's own names, which
        cannot be, are left to the class body when not `required`)."""
        namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "declarations"}
        for name in {
            n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }:
            if hasattr(builtins, name) and name not in imported and name not in constants:
                continue
            try:
                namespace[name] = value(name)
            except NameError:
                if required:
                    raise
        return namespace

    def evaluate(expression: ast.expr) -> Any:
        code = compile(ast.Expression(expression), filename, "eval")
        return eval(code, names_in(expression))

    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and imported.get(node.func.id) == ("api.http", "Operation")
    ]
    found = [evaluate(call) for call in calls]
    for operation in found:
        if not isinstance(operation, Operation):
            raise TypeError(f"{filename}: {operation!r} is not an api.http.Operation")
    return found
