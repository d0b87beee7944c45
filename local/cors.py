"""The HTTP API's CORS configuration (`provider.httpApi.cors`), as API Gateway applies it.

With CORS configured, API Gateway answers every preflight itself and sets the CORS headers on
every response, replacing any the function set.
"""

from dataclasses import dataclass

from local.serverless import Service

# What the Serverless Framework configures for `cors: true`.
DEFAULT_HEADERS = (
    "Content-Type",
    "X-Amz-Date",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
)
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "OPTIONS", "HEAD", "DELETE")


@dataclass(frozen=True)
class Cors:
    origins: tuple[str, ...] = ("*",)
    headers: tuple[str, ...] = DEFAULT_HEADERS
    methods: tuple[str, ...] = ALL_METHODS
    credentials: bool = False
    exposed: tuple[str, ...] = ()
    max_age: int | None = None

    @classmethod
    def of(cls, service: Service) -> "Cors | None":
        config = service.http_api().get("cors")
        if not config:
            return None
        config = {} if config is True else config
        methods = {"OPTIONS"}  # by default: the routes' methods
        for route in service.routes:
            methods.update(ALL_METHODS if route.method == "ANY" else (route.method,))
        return cls(
            origins=_tuple(config.get("allowedOrigins") or "*"),
            headers=_tuple(config.get("allowedHeaders") or DEFAULT_HEADERS),
            methods=_tuple(config.get("allowedMethods") or sorted(methods)),
            credentials=bool(config.get("allowCredentials")),
            exposed=_tuple(config.get("exposedResponseHeaders") or ()),
            max_age=config.get("maxAge"),
        )

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        allowed = "*" if "*" in self.origins else (origin if origin in self.origins else None)
        if allowed is None:
            return []
        headers = [("Access-Control-Allow-Origin", allowed)]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.exposed:
            headers.append(("Access-Control-Expose-Headers", ",".join(self.exposed)))
        return headers

    def preflight_headers(self, origin: str | None) -> list[tuple[str, str]]:
        headers = self.response_headers(origin)
        if not headers:
            return []
        headers.append(("Access-Control-Allow-Methods", ",".join(self.methods)))
        headers.append(("Access-Control-Allow-Headers", ",".join(self.headers).lower()))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return headers


def _tuple(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
