"""The HTTP API's JWT authorizer, checking tokens the way API Gateway does.

API Gateway takes the token from the identity source header (a `Bearer ` prefix is optional),
verifies its RS256 signature against the issuer's JWKS, its `iss`, its expiry, and that its
`aud` (ID tokens) or `client_id` (access tokens) is one of the audiences. A route with scopes
also needs one of them in the `scope` claim. The claims reach the function as strings.
"""

import json
import re
from collections.abc import Iterable
from typing import Any

import jwt

_BEARER = re.compile(r"^bearer\s+", re.IGNORECASE)


class Denied(Exception):
    """API Gateway answers the request itself: 401 without a valid token, 403 without scope."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.message = "Unauthorized" if status == 401 else "Forbidden"


class JwtAuthorizer:
    def __init__(self, jwks_url: str, issuer: str, audiences: Iterable[str]):
        self.issuer = issuer
        self.audiences = set(audiences)
        self._keys = jwt.PyJWKClient(jwks_url)  # fetched on first use, then cached

    def authorize(self, header: str | None, scopes: Iterable[str] = ()) -> dict[str, Any]:
        """The token's claims when API Gateway would let the request through; Denied otherwise."""
        token = _BEARER.sub("", header or "").strip()
        if not token:
            raise Denied(401, "no token")
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise Denied(401, str(error)) from error
        audience = claims.get("aud") or claims.get("client_id")
        audiences = set(audience) if isinstance(audience, list) else {audience}
        if not audiences & self.audiences:
            raise Denied(401, f"audience {audience!r} is not allowed")
        required = set(scopes)
        if required and not required & set(str(claims.get("scope", "")).split()):
            raise Denied(403, "the token has none of the route's scopes")
        return claims


def as_strings(claims: dict[str, Any]) -> dict[str, str]:
    """The claims as API Gateway hands them to the function: every value a string."""
    return {name: _string(value) for name, value in claims.items()}


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
