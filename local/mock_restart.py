"""A new moto for every handler test (tests/conftest.py's `tables`: `with mock_aws()`) without
rebuilding moto's `requests` patching each time.

moto 5.2's MockAWS, on every outermost start, empties its `responses` mock and registers ~1,200
callbacks again (7 HTTP methods times every service's URL patterns, each added with a linear
search of those already there), and empties it again on stop: measured, 6 % of the handler
tests' CPU, for callbacks that never change and that only a `requests` call to an AWS URL would
meet (botocore's calls go through moto's botocore stubber, not through `responses`).

install() keeps what a start and a stop do to the service backends (every backend reset: the
new moto is empty) and to the patching (the stubber and `requests` patched only while a mock is
active), and registers the callbacks once: a stop leaves them registered, inert while
`responses` is stopped. tests/local/test_local_mock_restart.py checks all three.
"""

from typing import Any

from moto.core import models
from moto.core.base_backend import BackendDict
from moto.core.model_instances import reset_model_data

_moto_enable = models.MockAWS._enable_patching


class _Registry:
    """The `responses` registry moto's first start filled, and how many callbacks it holds."""

    filled: Any = None
    count = 0

    @classmethod
    def intact(cls) -> bool:
        """Whether it is still that registry (`responses` makes a new one when it is reset),
        holding moto's callbacks and nothing added since."""
        registry = models.responses_mock.get_registry()
        return registry is cls.filled and len(registry.registered) == cls.count


def _enable_patching(self: models.MockAWS, reset: bool = True) -> None:
    if not _Registry.intact():
        _moto_enable(self, reset=reset)  # the first start, or something emptied the mock
        _Registry.filled = models.responses_mock.get_registry()
        _Registry.count = len(_Registry.filled.registered)
        return
    models.botocore_stubber.enabled = True
    if reset:
        BackendDict.reset()
    models.responses_mock.start()


def _disable_patching(self: models.MockAWS, remove_data: bool) -> None:
    models.botocore_stubber.enabled = False
    if remove_data:
        BackendDict.reset()
        reset_model_data()
    models.responses_mock.calls.reset()  # what reset() would have emptied, but the callbacks
    models.responses_mock.stop()


def install() -> None:
    """Applies it (idempotent)."""
    models.MockAWS._enable_patching = _enable_patching
    models.MockAWS._disable_patching = _disable_patching
