"""Dispatch of an HTTP request to an operation handler: route → parse → validate → handle → serialize.

Handlers are plain async callables keyed by operation name; they receive a ``RequestContext``
and the input dict, and return the output dict. Operations without a handler answer with
``NotImplementedException`` naming the operation.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qs

from locallambda.errors import LambdaError, NotImplementedOperationError, ServiceError
from locallambda.protocol.codec import Response, parse_request, render_error, serialize_response
from locallambda.protocol.model import Router
from locallambda.protocol.validation import validate
from locallambda.requests import Handler, RequestContext

__all__ = ["RequestContext", "Handler", "Dispatcher", "region_from_authorization"]

log = logging.getLogger("locallambda.api")

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
    ) -> None:
        self._router = router
        self._handlers = dict(handlers)
        self._default_region = default_region
        self._account_id = account_id

    @property
    def implemented(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def matches(self, method: str, raw_path: str, query_string: str) -> bool:
        return self._router.resolve(method, raw_path, parse_qs(query_string, keep_blank_values=True)) is not None

    async def dispatch(
        self, method: str, raw_path: str, query_string: str, headers: Mapping[str, str], body: bytes
    ) -> Response | None:
        """Answer one API request, or return ``None`` when no operation's route matches."""
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
                raise NotImplementedOperationError(
                    f"The operation {op.name} is not implemented by locallambda yet."
                )
            ctx = RequestContext(
                operation=op.name,
                region=region_from_authorization(headers.get("authorization"), self._default_region),
                account_id=self._account_id,
                request_id=request_id,
                headers=headers,
                content_length=len(body),
            )
            output = await handler(ctx, params)
            response = serialize_response(op, output)
        except LambdaError as err:
            return render_error(err, request_id)
        except Exception as exc:  # a bug of ours: answer as AWS does for its own faults, log the trace
            log.exception("internal error in %s", op.name)
            return render_error(ServiceError(f"Internal error in {op.name}: {type(exc).__name__}: {exc}"), request_id)
        response.headers.append((b"x-amzn-requestid", request_id.encode()))
        return response
