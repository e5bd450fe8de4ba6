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
from collections.abc import AsyncIterator, Callable
from typing import Any

from locallambda.errors import (
    InvalidParameterValueError,
    InvalidRequestContentError,
    RequestEntityTooLargeError,
    ResponseTooLarge,
)
from locallambda.invoke.async_queue import EventQueue
from locallambda.invoke.engine import InvokeEngine
from locallambda.invoke.journal import API, STREAM, TRIGGER_HEADER, Trigger, trigger_named
from locallambda.invoke.payloads import check_json
from locallambda.invoke.streaming import StreamedInvocation, error_of
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
        client_context = _client_context(p.get("ClientContext"))
        # Who invoked, for the journal: our own services say so in a header.
        named = ctx.headers.get(TRIGGER_HEADER)
        # A synchronous invoke resolves and checks the function in the engine; DryRun and Event
        # never reach its invoke: the engine's dry_run checks (and journals) one, the other is
        # checked here.
        if kind == "DryRun":
            self.engine.dry_run(ref, payload, ctx.request_id, Trigger(trigger_named(named, "api"), "DryRun"))
            # AWS answers the status alone: no payload, no X-Amz-Executed-Version.
            return {"StatusCode": 204}
        if kind == "Event":
            _, version, _ = self.engine.resolve(ref)
            self.engine.ensure_active(version)
            self.events.submit(ref, payload or b"{}", ctx.request_id, trigger_named(named, "event"))
            # An empty body, as AWS answers (an absent payload member would be rendered as "{}").
            return {"StatusCode": 202, "Payload": b""}
        result = await self.engine.invoke(
            ref,
            payload or b"{}",
            client_context=client_context,
            request_id=ctx.request_id,
            trigger=API if named is None else Trigger(trigger_named(named, "api")),
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

    @operation("InvokeWithResponseStream")
    async def invoke_with_response_stream(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Docs: API_InvokeWithResponseStream.html. The request is checked as Invoke's (the
        model allows RequestResponse and DryRun only); the answer is 200 with the
        function's bytes as ``PayloadChunk`` events as they come (a function that does not
        stream: its whole payload, one chunk), then one ``InvokeComplete``: empty, or
        ``ErrorCode`` (the error's type) and ``ErrorDetails`` (its message) when the function
        failed, and ``LogResult`` (the log tail, base64) with ``LogType=Tail``."""
        ref = parse_function_name(p["FunctionName"], ctx.region, ctx.account_id, p.get("Qualifier"))
        payload: bytes = p.get("Payload") or b""
        if len(payload) > self._request_limit:
            raise RequestEntityTooLargeError(
                f"Request must be smaller than {self._request_limit} bytes for the InvokeFunction operation"
            )
        check_json(payload)
        client_context = _client_context(p.get("ClientContext"))
        if p.get("InvocationType") == "DryRun":
            self.engine.dry_run(ref, payload, ctx.request_id, Trigger(STREAM.name, "DryRun"))
            return {"StatusCode": 204}
        streamed = await self.engine.invoke_streaming(
            ref, payload or b"{}", client_context=client_context, request_id=ctx.request_id
        )
        return {
            "StatusCode": 200,
            "ExecutedVersion": streamed.executed_version,
            "EventStream": _events(streamed, tail=p.get("LogType") == "Tail"),
        }

    @operation("InvokeAsync")
    async def invoke_async(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_name(p["FunctionName"], ctx.region, ctx.account_id)
        payload: bytes = p.get("InvokeArgs") or b""
        if len(payload) > INVOKE_ASYNC_LIMIT:
            raise RequestEntityTooLargeError(
                f"Request must be smaller than {INVOKE_ASYNC_LIMIT} bytes for the InvokeFunction operation"
            )
        self.engine.resolve(ref)
        self.events.submit(
            ref, payload or b"{}", ctx.request_id, trigger_named(ctx.headers.get(TRIGGER_HEADER), "event")
        )
        return {"Status": 202}


def _client_context(raw: str | None) -> str | None:
    """The decoded ClientContext. Raises AWS's errors for one too long or not base64 JSON."""
    if not raw:
        return None
    if len(raw) > CLIENT_CONTEXT_LIMIT:
        raise InvalidParameterValueError("Client context must be 3583 bytes or less.")
    try:
        client_context = base64.b64decode(raw, validate=True).decode()
        json.loads(client_context)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestContentError("Client context must be a valid Base64-encoded JSON object.") from exc
    return client_context


async def _events(streamed: StreamedInvocation, *, tail: bool) -> AsyncIterator[dict[str, Any]]:
    """InvokeWithResponseStream's events for one invocation."""
    try:
        async for chunk in streamed.chunks():
            yield {"PayloadChunk": {"Payload": chunk}}
        result = await streamed.result()
        complete: dict[str, Any] = {}
        if result.function_error:
            complete["ErrorCode"], complete["ErrorDetails"] = error_of(result.payload)
        if tail:
            complete["LogResult"] = base64.b64encode(result.log.encode()[-LOG_TAIL:]).decode()
        yield {"InvokeComplete": complete}
    finally:
        streamed.close()


def event_config(functions: FunctionRegistry) -> Callable[[FunctionRef], dict[str, Any]]:
    """Lookup of a function's EventInvokeConfig for the event queue."""

    def lookup(ref: FunctionRef) -> dict[str, Any]:
        record = functions.get(ref.region, ref.name)
        if record is None:
            return {}
        return record.event_invoke_configs.get(ref.qualifier or LATEST) or {}

    return lookup
