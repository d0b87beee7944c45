"""The functions of serverless.yml, imported and invoked in this process as Lambda would."""

import importlib
import logging
from collections.abc import Callable
from typing import Any

from local.events import LambdaContext
from local.serverless import Function, Service

log = logging.getLogger("local")


class Lambdas:
    def __init__(self, service: Service):
        # Imported at start, after the environment is set (handlers read table names at import),
        # so a broken import shows at once rather than on the first request.
        self.service = service
        self._handlers: dict[str, Callable[[dict, Any], Any]] = {
            name: getattr(importlib.import_module(function.module), function.attribute)
            for name, function in service.functions.items()
        }

    def invoke(self, function: Function, event: dict[str, Any]) -> Any:
        deployed_name = f"{self.service.name}-{self.service.stage}-{function.name}"
        context = LambdaContext(function, deployed_name)
        result = self._handlers[function.name](event, context)
        if context.get_remaining_time_in_millis() == 0:
            log.warning(
                "%s ran past its %ss timeout: Lambda would have stopped it",
                function.name,
                function.timeout,
            )
        return result
