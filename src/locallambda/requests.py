"""Types shared by the protocol layer and the resource handlers it calls.

They live here, below both, so that ``control/`` and ``invoke/`` never import the protocol layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

__all__ = ["RequestContext", "Handler"]


@dataclasses.dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asked what: the operation, the region and account of the request, its id and headers."""

    operation: str
    region: str
    account_id: str
    request_id: str
    headers: Mapping[str, str]
    content_length: int = 0


Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[Mapping[str, Any] | None]]
