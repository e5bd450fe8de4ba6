"""Invoke and InvokeAsync: request checks as AWS makes them, and the result mapped to Invoke's members.

Docs: API_Invoke.html. RequestResponse answers 200 (function errors included, flagged by
``FunctionError``), Event 202, DryRun 204. ``LogType=Tail`` returns the last 4 KB of the
invocation's log, base64-encoded. The synchronous limits follow
``LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES`` (default 6 MB + 100): that is the largest
response, and a request may have 100 bytes less (AWS's own two figures, 6291556 and 6291456).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from locallambda.errors import (
    InvalidParameterValueError,
    InvalidRequestContentError,
    RequestEntityTooLargeError,
    ResponseTooLarge,
)
from locallambda.invoke.async_queue import EventQueue
from locallambda.invoke.engine import InvokeEngine
from locallambda.invoke.payloads import check_json
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef, parse_function_name
from locallambda.store.functions import FunctionRegistry

__all__ = ["ASYNC_PAYLOAD_LIMIT", "InvocationsApi", "event_config"]

ASYNC_PAYLOAD_LIMIT = 1024 * 1024
INVOKE_ASYNC_LIMIT = 256 * 1024
REQUEST_MARGIN = 100  # AWS's synchronous request limit is 100 bytes below its response limit
CLIENT_CONTEXT_LIMIT = 3583
LOG_TAIL = 4096


class InvocationsApi:
    def __init__(self, engine: InvokeEngine, events: EventQueue, *, response_limit: int) -> None:
        self.engine = engine
        self.events = events
        self._response_limit = response_limit
        self._request_limit = response_limit - REQUEST_MARGIN

    @operation("Invoke")
    async def invoke(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_name(p["FunctionName"], ctx.region, ctx.account_id, p.get("Qualifier"))
        kind = p.get("InvocationType") or "RequestResponse"
        payload: bytes = p.get("Payload") or b""
        limit = self._request_limit if kind != "Event" else ASYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            if kind == "Event":
                raise RequestEntityTooLargeError(
                    f"{len(payload)} byte payload is too large for the Event invocation type (limit {limit} bytes)"
                )
            raise RequestEntityTooLargeError(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        check_json(payload)
        client_context = None
        if p.get("ClientContext"):
            raw = p["ClientContext"]
            if len(raw) > CLIENT_CONTEXT_LIMIT:
                raise InvalidParameterValueError("Client context must be 3583 bytes or less.")
            try:
                client_context = base64.b64decode(raw, validate=True).decode()
                json.loads(client_context)
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise InvalidRequestContentError("Client context must be a valid Base64-encoded JSON object.") from exc
        if kind in ("DryRun", "Event"):
            # A synchronous invoke resolves and checks the function in the engine; these two
            # never reach it, so they check here.
            _, version, _ = self.engine.resolve(ref)
            self.engine.ensure_active(version)
        if kind == "DryRun":
            # AWS answers the status alone: no payload, no X-Amz-Executed-Version.
            return {"StatusCode": 204}
        if kind == "Event":
            self.events.submit(ref, payload or b"{}", ctx.request_id)
            # An empty body, as AWS answers (an absent payload member would be rendered as "{}").
            return {"StatusCode": 202, "Payload": b""}
        result = await self.engine.invoke(
            ref, payload or b"{}", client_context=client_context, request_id=ctx.request_id
        )
        out: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": result.executed_version, "Payload": result.payload}
        if len(result.payload) > self._response_limit:
            out["Payload"] = ResponseTooLarge(result.request_id, self._response_limit).payload()
            out["FunctionError"] = "Unhandled"
        elif result.function_error:
            out["FunctionError"] = result.function_error
        if p.get("LogType") == "Tail":
            tail = result.log.encode()[-LOG_TAIL:]
            out["LogResult"] = base64.b64encode(tail).decode()
        return out

    @operation("InvokeAsync")
    async def invoke_async(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_name(p["FunctionName"], ctx.region, ctx.account_id)
        payload: bytes = p.get("InvokeArgs") or b""
        if len(payload) > INVOKE_ASYNC_LIMIT:
            raise RequestEntityTooLargeError(
                f"Request must be smaller than {INVOKE_ASYNC_LIMIT} bytes for the InvokeFunction operation"
            )
        self.engine.resolve(ref)
        self.events.submit(ref, payload or b"{}", ctx.request_id)
        return {"Status": 202}


def event_config(functions: FunctionRegistry) -> Callable[[FunctionRef], dict[str, Any]]:
    """Lookup of a function's EventInvokeConfig for the event queue."""

    def lookup(ref: FunctionRef) -> dict[str, Any]:
        record = functions.get(ref.region, ref.name)
        if record is None:
            return {}
        return record.event_invoke_configs.get(ref.qualifier or LATEST) or {}

    return lookup
