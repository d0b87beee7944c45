"""Every handler a test invokes runs with its function's own IAM role (local/iam.py).

serverless.yml maps each handler module to its function. `install` (tests/conftest.py, before
any test module is imported) puts an import hook in place: whenever one of those modules is
imported, its handler is replaced by one that runs the original as that function, and every
AWS call made meanwhile (in this thread, and in the threads database.parallel starts for it)
must be granted by the function's role, as on AWS. So there is no way to call a deployed
handler without its role. Between invocations the test itself sets tables and secrets up with
its own, unrestricted credentials.

The tests run serverless.yml's `test` stage with every feature on (payments included), the
stage whose table names tests/conftest.py sets.
"""

import contextvars
import functools
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from local import iam
from local.serverless import Service

_current: contextvars.ContextVar[iam.Role | None] = contextvars.ContextVar("role", default=None)


def current() -> iam.Role | None:
    """The role of the handler running in this context; None: the test's own calls."""
    return _current.get()


@contextmanager
def running_as(role: iam.Role) -> Iterator[None]:
    token = _current.set(role)
    try:
        yield
    finally:
        _current.reset(token)


class _Roles:
    """module -> (handler attribute, function), from serverless.yml, and each function's role
    (built when first used; `replaced` swaps one for a test)."""

    def __init__(self, service: Service):
        self.service = service
        self.functions: dict[str, tuple[str, str]] = {}
        for name, function in service.functions.items():
            if function.module in self.functions:
                other = self.functions[function.module][1]
                raise RuntimeError(f"{name} and {other} share {function.module}: whose role?")
            self.functions[function.module] = (function.attribute, name)
        self.roles: dict[str, iam.Role] = {}

    def role(self, function: str) -> iam.Role:
        if function not in self.roles:
            self.roles[function] = iam.role(self.service, function)
        return self.roles[function]


_registry: _Roles | None = None


def role(function: str) -> iam.Role:
    """The role `function` runs with in the tests."""
    assert _registry is not None, "tests/roles.py is not installed"
    return _registry.role(function)


@contextmanager
def replaced(function: str, role: iam.Role) -> Iterator[None]:
    """`function`'s handler runs with `role` instead (to prove a grant is needed)."""
    assert _registry is not None, "tests/roles.py is not installed"
    original = _registry.role(function)
    _registry.roles[function] = role
    try:
        yield
    finally:
        _registry.roles[function] = original


def as_function(handler: Callable[..., Any], roles: _Roles, function: str) -> Callable[..., Any]:
    @functools.wraps(handler)
    def invoke(*args: Any, **kwargs: Any) -> Any:
        with running_as(roles.role(function)):
            return handler(*args, **kwargs)

    invoke.function = function  # type: ignore[attr-defined]
    return invoke


class _WrapHandlers(importlib.abc.MetaPathFinder):
    def __init__(self, roles: _Roles):
        self.roles = roles

    def find_spec(self, name, path, target=None):
        if name not in self.roles.functions:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _WrappingLoader(spec.loader, self.roles)
        return spec


class _WrappingLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, roles: _Roles):
        self.loader = loader
        self.roles = roles

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        attribute, function = self.roles.functions[module.__name__]
        handler = getattr(module, attribute)
        setattr(module, attribute, as_function(handler, self.roles, function))

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ... for tracebacks
        return getattr(self.loader, name)


def install(service: Service) -> None:
    """Before any handler module is imported: each is wrapped as it is imported, and every
    botocore call checked against the role of the handler that makes it."""
    global _registry
    _registry = _Roles(service)
    already = [module for module in _registry.functions if module in sys.modules]
    if already:
        raise RuntimeError(f"imported before their roles could be installed: {already}")
    sys.meta_path.insert(0, _WrapHandlers(_registry))
    iam.install(current, iam.partition_keys(service))
