"""CORS of function URLs, from the URL's ``Cors`` configuration (urls-configuration.html,
"Cross-origin resource sharing (CORS)"; API_Cors.html).

- ``AllowOrigins`` → ``access-control-allow-origin``, ``AllowMethods`` →
  ``access-control-allow-methods``, ``AllowHeaders`` → ``access-control-allow-headers``,
  ``ExposeHeaders`` → ``access-control-expose-headers``, ``AllowCredentials`` →
  ``access-control-allow-credentials: true``, ``MaxAge`` → ``access-control-max-age``; lists are
  joined with ``,``. Names are written lower-case, as AWS's function URL front end writes the
  headers it adds (the docs' example responses).
- Only a request with an ``Origin`` header gets CORS headers, and only when the origin is
  allowed: ``*`` allows every origin (answered ``*``), else the origin must be listed (compared
  without regard to case, as host names are; answered with the request's origin). AWS's
  payload-2.0 front end states the same condition for HTTP APIs (http-api-cors.html: "your
  request must contain an origin header").
- A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) to a URL with a
  ``Cors`` configuration is answered here without invoking the function (http-api-cors.html:
  "automatically sends a response to preflight OPTIONS requests"): 200 with an empty body, with
  the allow-* and max-age headers for an allowed origin and without any for another (the browser
  then refuses the real request). Without a ``Cors`` configuration an ``OPTIONS`` request is an
  ordinary request: the function gets it.
- Other responses of an allowed origin get allow-origin, expose-headers and allow-credentials;
  the same-named headers of the function's own response give way to them (urls-configuration.html:
  "If there are conflicting headers, the configured CORS headers on the function URL take
  precedence").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from locallambda.protocol.codec import Response

__all__ = ["CorsRules", "is_preflight"]

_ALLOW_ORIGIN = b"access-control-allow-origin"
_ALLOW_METHODS = b"access-control-allow-methods"
_ALLOW_HEADERS = b"access-control-allow-headers"
_EXPOSE_HEADERS = b"access-control-expose-headers"
_ALLOW_CREDENTIALS = b"access-control-allow-credentials"
_MAX_AGE = b"access-control-max-age"
_RESPONSE_HEADERS = frozenset({_ALLOW_ORIGIN, _EXPOSE_HEADERS, _ALLOW_CREDENTIALS})


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """Whether a request is a CORS preflight (lower-case header names)."""
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclasses.dataclass(frozen=True, slots=True)
class CorsRules:
    """A URL's ``Cors`` configuration, read once per request."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> CorsRules | None:
        """The rules of a URL configuration; ``None`` when it has no ``Cors``."""
        cors = config.get("Cors")
        if not isinstance(cors, Mapping):
            return None
        max_age = cors.get("MaxAge")
        return cls(
            allow_origins=_strings(cors.get("AllowOrigins")),
            allow_methods=_strings(cors.get("AllowMethods")),
            allow_headers=_strings(cors.get("AllowHeaders")),
            expose_headers=_strings(cors.get("ExposeHeaders")),
            allow_credentials=cors.get("AllowCredentials") is True,
            max_age=max_age if isinstance(max_age, int) and not isinstance(max_age, bool) else None,
        )

    def allowed_origin(self, headers: Mapping[str, str]) -> str | None:
        """The ``access-control-allow-origin`` value for this request; ``None``: no CORS headers."""
        origin = headers.get("origin")
        if origin is None:
            return None
        if "*" in self.allow_origins:
            return "*"
        wanted = origin.lower()
        return origin if any(o.lower() == wanted for o in self.allow_origins) else None

    def preflight(self, headers: Mapping[str, str]) -> Response:
        """The answer to a preflight request (the function is not invoked)."""
        out: list[tuple[bytes, bytes]] = []
        origin = self.allowed_origin(headers)
        if origin is not None:
            out.append((_ALLOW_ORIGIN, origin.encode("latin-1", "replace")))
            if self.allow_methods:
                out.append((_ALLOW_METHODS, ",".join(self.allow_methods).encode("latin-1", "replace")))
            if self.allow_headers:
                out.append((_ALLOW_HEADERS, ",".join(self.allow_headers).encode("latin-1", "replace")))
            if self.allow_credentials:
                out.append((_ALLOW_CREDENTIALS, b"true"))
            if self.max_age is not None:
                out.append((_MAX_AGE, str(self.max_age).encode()))
        return Response(200, out, b"")

    def apply(self, response: Response, headers: Mapping[str, str]) -> Response:
        """``response`` with the CORS headers of an allowed origin (the function's own CORS
        response headers replaced); unchanged for a request of no or another origin."""
        origin = self.allowed_origin(headers)
        if origin is None:
            return response
        kept = [(k, v) for k, v in response.headers if k.lower() not in _RESPONSE_HEADERS]
        kept.append((_ALLOW_ORIGIN, origin.encode("latin-1", "replace")))
        if self.expose_headers:
            kept.append((_EXPOSE_HEADERS, ",".join(self.expose_headers).encode("latin-1", "replace")))
        if self.allow_credentials:
            kept.append((_ALLOW_CREDENTIALS, b"true"))
        return Response(response.status, kept, response.body, response.stream)
