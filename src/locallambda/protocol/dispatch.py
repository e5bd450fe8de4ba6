"""Dispatch of an HTTP request to an operation handler: route → parse → validate → handle → serialize.

Handlers are plain async callables keyed by operation name (declared with
``model.operations.operation``); they receive a ``RequestContext`` and the input dict, and
return the output dict. Operations without a handler raise ``NotImplementedException`` naming the
operation. Errors are raised, carrying the request's id, for the edge to render; an exception
that is not a ``LambdaError`` is a bug of ours and becomes a ``ServiceError`` here, with its
trace logged. Before a request is acknowledged, ``durable`` (the store's flush) is awaited, so an
acknowledged write survives a kill of the server.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qs

from locallambda.errors import LambdaError, NotImplementedOperationError, ServiceError
from locallambda.model.operations import Handler, Origin, RequestContext
from locallambda.protocol.codec import Response, parse_request, serialize_response
from locallambda.protocol.eventstream import serialize_event_stream
from locallambda.protocol.model import Router
from locallambda.protocol.validation import validate

__all__ = ["Dispatcher", "region_from_authorization"]

log = logging.getLogger(__name__)

# (the connection's client address, the request's headers) → where the request comes from.
OriginFinder = Callable[[tuple[str, int] | None, Mapping[str, str]], Origin]

_CREDENTIAL = re.compile(r"Credential=[^/]*/\d{8}/([a-z0-9-]+)/")


def region_from_authorization(authorization: str | None, default: str) -> str:
    """The region a SigV4 request was signed for; unsigned requests get ``default`` (as LocalStack)."""
    if authorization:
        m = _CREDENTIAL.search(authorization)
        if m:
            return m.group(1)
    return default


class Dispatcher:
    def __init__(
        self,
        router: Router,
        handlers: Mapping[str, Handler],
        *,
        default_region: str,
        account_id: str,
        durable: Callable[[], Awaitable[None]] | None = None,
        origin_of: OriginFinder | None = None,
    ) -> None:
        unknown = set(handlers) - set(router.operation_names)
        if unknown:
            raise ValueError(f"handlers for operations the service model does not have: {sorted(unknown)}")
        self._router = router
        self._handlers = dict(handlers)
        self._default_region = default_region
        self._account_id = account_id
        self._durable = durable
        self._origin_of = origin_of

    def _origin(self, client: tuple[str, int] | None, headers: Mapping[str, str]) -> Callable[[], Awaitable[Origin]]:
        """Where the request comes from, found once and only if a handler asks (it reads /proc,
        in a worker thread); without a finder every caller counts as the host's."""
        finder = self._origin_of
        found: list[Origin] = []

        async def origin() -> Origin:
            if finder is None:
                return Origin.HOST
            if not found:
                found.append(await asyncio.to_thread(finder, client, headers))
            return found[0]

        return origin

    @property
    def implemented(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def matches(self, method: str, raw_path: str, query_string: str) -> bool:
        return self._router.resolve(method, raw_path, parse_qs(query_string, keep_blank_values=True)) is not None

    async def dispatch(
        self,
        method: str,
        raw_path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        client: tuple[str, int] | None = None,
    ) -> Response | None:
        """Answer one API request, or return ``None`` when no operation's route matches.

        Raises ``LambdaError`` (with ``request_id`` set) for every error the request meets.
        """
        query = parse_qs(query_string, keep_blank_values=True) if query_string else {}
        resolved = self._router.resolve(method, raw_path, query)
        if resolved is None:
            return None
        op, uri_params = resolved
        request_id = str(uuid.uuid4())
        try:
            handler = self._handlers.get(op.name)
            params = parse_request(op, uri_params, query, headers, body)
            validate(op.input_shape, params)
            if handler is None:
                raise NotImplementedOperationError(f"The operation {op.name} is not implemented by locallambda yet.")
            ctx = RequestContext(
                operation=op.name,
                region=region_from_authorization(headers.get("authorization"), self._default_region),
                account_id=self._account_id,
                request_id=request_id,
                headers=headers,
                content_length=len(body),
                origin=self._origin(client, headers),
            )
            output = await handler(ctx, params)
            if self._durable is not None:
                await self._durable()
            if op.has_event_stream_output:
                response = serialize_event_stream(op, output or {})
            else:
                response = serialize_response(op, output)
        except LambdaError as err:
            err.request_id = request_id
            raise
        except Exception as exc:  # a bug of ours: answer as AWS does for its own faults, log the trace
            log.exception("internal error in %s", op.name)
            failure = ServiceError(f"Internal error in {op.name}: {type(exc).__name__}: {exc}")
            failure.request_id = request_id
            raise failure from exc
        response.headers.append((b"x-amzn-requestid", request_id.encode()))
        return response
