"""moto's answers built with the same result, at a fraction of the cost: what each request pays
for twice, once in every handler test and once on `make run`.

moto 5.2 serialises every answer by walking the operation's output shape and, for each member
of each structure, asking its attribute picker for the value under a list of candidate names
(the shape's name, the member's, their snake_case forms, prefixes stripped, ...), built anew for
every member of every value. A DynamoDB item is a structure per attribute value with ten
members (S, N, M, L, ...), so an answer of a few items asks for some hundred candidate lists:
measured, a fifth of all the CPU of the handler tests (the largest single cost after moto's
request handling itself).

For a plain `dict` (every DynamoDB answer is one) the candidates depend only on the member's
shape and name: the alias providers look at the object only through `Meta` (a dict has none)
and its class name (always "dict"). So install() keeps each member's candidates once and tries
them in the same order, with moto's own `get_value`, and leaves every other object to moto's
picker; the value found, and the transformers applied to it, are moto's. The same holds for
`method_names_from_class`, which moto runs (inspect.getmembers) on every request to find the
action's method: its answer for a class does not change once the patches are installed.
tests/local/test_local_serialization.py checks the answers are byte for byte moto's own.
"""

import functools
from typing import Any

from moto.core import responses, serialize
from moto.core.constants import MISSING
from moto.core.utils import get_value

_picked = serialize.XFormedAttributePicker.__call__
_candidates: dict[tuple[Any, str], tuple[str, ...]] = {}  # (member shape, name): the names


def _pick(self: serialize.XFormedAttributePicker, context: Any) -> Any:
    obj = context.obj
    if type(obj) is not dict or self.alias_providers is not serialize.DEFAULT_ALIAS_PROVIDERS:
        return _picked(self, context)
    # The shape object itself is the key, so the cache keeps it alive: no id is ever reused.
    names = _candidates.get((context.shape, context.key))
    if names is None:
        names = tuple(self.get_possible_keys(context))
        _candidates[(context.shape, context.key)] = names
    value = None
    for name in names:
        found = get_value(obj, name, MISSING)
        if found is not MISSING:
            value = found
            break
    if self.response_transformers:
        key_path = f"{context.key_path}.{context.key}"
        for transform_path, transform in self.response_transformers.items():
            if key_path.endswith(transform_path):
                return transform(value)
    return value


def install() -> None:
    """Applies both (idempotent)."""
    serialize.XFormedAttributePicker.__call__ = _pick
    names = vars(responses)["method_names_from_class"]
    if not hasattr(names, "cache_info"):
        responses.method_names_from_class = functools.cache(names)
