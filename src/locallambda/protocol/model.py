"""The Lambda service model (botocore's ``lambda`` JSON) and the routing table built from it.

Every operation of the model is routed: the table is derived from each operation's
``http.method`` and ``http.requestUri``, never written by hand.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from functools import cache
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel

__all__ = ["Route", "Router", "load_service_model"]

_PARAM = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@cache
def load_service_model() -> ServiceModel:
    """botocore's Lambda model; loaded once per process (it is immutable)."""
    return botocore.session.get_session().get_service_model("lambda")


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    required_query: tuple[tuple[str, str], ...]
    literal_weight: int

    def match(self, method: str, path: str, query: Mapping[str, list[str]]) -> dict[str, str] | None:
        if method != self.method:
            return None
        m = self.pattern.fullmatch(path)
        if m is None:
            return None
        for key, value in self.required_query:
            if value not in query.get(key, ()):
                return None
        return {k: unquote(v) for k, v in m.groupdict().items()}


def _compile(request_uri: str) -> tuple[re.Pattern[str], tuple[tuple[str, str], ...], int]:
    path, _, query = request_uri.partition("?")
    parts: list[str] = []
    pos = 0
    literal = 0
    for m in _PARAM.finditer(path):
        parts.append(re.escape(path[pos : m.start()]))
        literal += m.start() - pos
        greedy = m.group(2) == "+"
        parts.append(f"(?P<{m.group(1)}>{'.+' if greedy else '[^/]+'})")
        pos = m.end()
    parts.append(re.escape(path[pos:]))
    literal += len(path) - pos
    required: list[tuple[str, str]] = []
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        required.append((key, value))
    # Routes that demand query literals win over the same path without them.
    return re.compile("".join(parts) + "/?"), tuple(required), literal * 10 + len(required)


class Router:
    """Maps (method, raw path, query) to an operation and its path parameters."""

    def __init__(self, model: ServiceModel) -> None:
        routes = []
        for name in model.operation_names:
            op = model.operation_model(name)
            pattern, required, weight = _compile(op.http["requestUri"])
            routes.append(Route(op, op.http["method"], pattern, required, weight))
        routes.sort(key=lambda r: -r.literal_weight)
        self._routes = tuple(routes)
        # First path segment (the API date) narrows the candidates cheaply.
        self._by_prefix: dict[str, tuple[Route, ...]] = {}
        for r in self._routes:
            prefix = r.operation.http["requestUri"].split("/")[1]
            self._by_prefix[prefix] = (*self._by_prefix.get(prefix, ()), r)

    @property
    def operation_names(self) -> frozenset[str]:
        return frozenset(r.operation.name for r in self._routes)

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    def resolve(
        self, method: str, path: str, query: Mapping[str, list[str]]
    ) -> tuple[OperationModel, dict[str, str]] | None:
        """The operation for this request, or ``None`` when no route matches."""
        second = path.find("/", 1)
        prefix = path[1:second] if second > 0 else path[1:]
        for route in self._by_prefix.get(prefix, ()):
            params = route.match(method, path, query)
            if params is not None:
                return route.operation, params
        return None
