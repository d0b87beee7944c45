"""What the packaging tests used to pin by hand, derived from the framework's reading of
serverless.yml (tests/support.py's SERVICE: the test stage, every feature on) and the handler
tree, with the rules those pins protected: every function's handler exists, every route is
unique and needs the JWT authorizer unless it is public by rule, and the IAM grants are the
reviewed pin (tests/infra/grants.json, `make grants`)."""

import ast
from pathlib import Path

import grants

from local.serverless import load, resolved
from support import ROOT, SERVICE

# The routes that answer without a Cognito token, and what authenticates them instead: every
# path under /public/ (anyone may read it), and these.
SIGNED_ELSEWHERE = {
    "POST /stripe/webhook": "the Stripe-Signature header (handlers/payments/webhook.py)",
    "POST /tournaments": "the Discord bot's Basic token (api/bot.py)",
    "POST /tournaments/leaderboard": "the Discord bot's Basic token (api/bot.py)",
}


def needs_the_jwt(route_key: str) -> bool:
    path = route_key.partition(" ")[2]
    return not path.startswith("/public/") and route_key not in SIGNED_ELSEWHERE


def defines(source: str, name: str) -> bool:
    """Whether a module's source binds `name` at its top level."""
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        targets += [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return True
    return False


def test_every_function_s_handler_file_exists_and_defines_its_handler():
    for function in SERVICE.functions.values():
        path = ROOT / Path(*function.module.split(".")).with_suffix(".py")
        assert path.is_file(), f"{function.name}: {path} is missing"
        assert defines(path.read_text(), function.attribute), f"{function.name}: {path}"


def test_routes_are_unique_and_need_the_jwt_unless_public_by_rule():
    keys = [route.key for route in SERVICE.routes]
    assert len(keys) == len(set(keys)), sorted(key for key in keys if keys.count(key) > 1)
    assert set(SIGNED_ELSEWHERE) <= set(keys), "a route listed here that serverless.yml lost"
    for route in SERVICE.routes:
        authorizer = "cognito" if needs_the_jwt(route.key) else None
        assert route.authorizer == authorizer, route.key


def test_the_grants_pin_is_current():
    assert grants.pinned() == grants.current(), (
        "serverless.yml's grants changed: run `make grants` and review tests/infra/grants.json"
    )


def test_features_add_grants_independently():
    """The pin's parts compose: the local stage with every feature has the base and each
    feature's part, so a stage's expected grants are the union of its features' parts."""
    every = frozenset(grants.FEATURES)
    document = resolved(ROOT / "serverless.yml", "local", every)
    on = {name: granted for name, granted in grants.grants_of_document(document).items()}
    assert {n: g for n, g in on.items() if g} == grants.expected(every)
    assert set(load(ROOT / "serverless.yml", "local", every).functions) == set(on)
