"""How the API layer and the resource handlers meet: the request context, the handler signature,
and the ``operation`` decorator that registers a method as the handler of one operation.

They live here, below both, so that ``control/`` and ``invoke/`` never import the protocol layer.
Handlers are declared where they are written::

    class AliasesApi:
        @operation("CreateAlias")
        async def create_alias(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]: ...

and the app factory collects them with ``operations_of(api, ...)``.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

__all__ = ["FUNCTION_KEY_PREFIX", "Handler", "Origin", "RequestContext", "operation", "operations_of"]


# The access keys handed to execution environments: a request signed with one comes from a function.
FUNCTION_KEY_PREFIX = "LLFN"


class Origin(enum.Enum):
    """Where a request comes from, as far as host files are concerned (``edge/callers.py``)."""

    HOST = "host"  # a process of this machine outside any sandbox or container
    ISOLATED = "isolated"  # code inside an execution environment (sandbox, container, our credentials)
    REMOTE = "remote"  # not from loopback: a bridge network, another machine
    UNKNOWN = "unknown"  # from loopback, but its process could not be found


async def _from_host() -> Origin:
    return Origin.HOST


@dataclasses.dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asked what: the operation, the region and account of the request, its id and headers.

    ``origin`` finds out where the request comes from; it may read /proc, so only handlers that
    give out host resources (hot reloading) await it.
    """

    operation: str
    region: str
    account_id: str
    request_id: str
    headers: Mapping[str, str]
    content_length: int = 0
    origin: Callable[[], Awaitable[Origin]] = _from_host


Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[Mapping[str, Any] | None]]

_F = TypeVar("_F", bound=Callable[..., Any])
_MARK = "__lambda_operations__"


def operation(*names: str) -> Callable[[_F], _F]:
    """Mark a method as the handler of the named operations (names from the service model)."""

    def mark(fn: _F) -> _F:
        setattr(fn, _MARK, (*getattr(fn, _MARK, ()), *names))
        return fn

    return mark


def operations_of(*apis: object) -> dict[str, Handler]:
    """Every operation handler the given objects declare, by operation name.

    Raises ``ValueError`` when two handlers claim the same operation.
    """
    table: dict[str, Handler] = {}
    for api in apis:
        for _, method in inspect.getmembers(api, inspect.ismethod):
            for name in getattr(method, _MARK, ()):
                if name in table:
                    raise ValueError(f"two handlers for {name}: {table[name]} and {method}")
                table[name] = method
    return table
