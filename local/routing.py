"""Matching a request to a serverless.yml route, with API Gateway's precedence."""

import re
from urllib.parse import unquote

from local.serverless import Route

_PARAMETER = re.compile(r"\{([^{}/]+?)(\+?)\}")


class Router:
    def __init__(self, routes: list[Route]):
        # API Gateway prefers the most specific route: literal segments over `{param}`, and
        # `{param}` over a greedy `{proxy+}`; an exact method over ANY.
        def specificity(route: Route) -> tuple[int, int, int]:
            kinds = [plus for _, plus in _PARAMETER.findall(route.path)]
            return kinds.count("+"), len(kinds), route.method == "ANY"

        self._routes = [(route, _pattern(route.path)) for route in sorted(routes, key=specificity)]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for a request and its (decoded) path parameters, or None."""
        for route, pattern in self._routes:
            if route.method not in (method, "ANY"):
                continue
            if found := pattern.fullmatch(path):
                return route, {name: unquote(value) for name, value in found.groupdict().items()}
        return None


def _pattern(path: str) -> re.Pattern[str]:
    parts, end = [], 0
    for parameter in _PARAMETER.finditer(path):
        parts.append(re.escape(path[end : parameter.start()]))
        name, greedy = parameter.groups()
        parts.append(f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)")
        end = parameter.end()
    parts.append(re.escape(path[end:]))
    return re.compile("".join(parts))
