"""Invoke and InvokeAsync: request checks as AWS makes them, and the result mapped to Invoke's members.

Docs: API_Invoke.html. RequestResponse answers 200 (function errors included, flagged by
``FunctionError``), Event 202, DryRun 204. ``LogType=Tail`` returns the last 4 KB of the
invocation's log, base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from locallambda.control.arns import LATEST
from locallambda.control.plane import ControlPlane
from locallambda.errors import InvalidParameterValueError, InvalidRequestContentError, RequestEntityTooLargeError
from locallambda.invoke.async_queue import EventQueue
from locallambda.invoke.engine import InvokeEngine
from locallambda.requests import Handler, RequestContext

__all__ = ["InvocationsApi", "SYNC_PAYLOAD_LIMIT", "ASYNC_PAYLOAD_LIMIT"]

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
RESPONSE_LIMIT = 6 * 1024 * 1024 + 100
CLIENT_CONTEXT_LIMIT = 3583
LOG_TAIL = 4096


# AWS parses payloads with Jackson and reports its errors, location included.
_JSON_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
_VALUE_LIST = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_VALUE_START = frozenset(b'{["-0123456789tfn')
_WHITESPACE = b" \t\r\n"


def _char_desc(code: int) -> str:
    """A character as Jackson names it in its messages (``_getCharDesc``)."""
    if code < 32 or 127 <= code <= 159:
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{chr(code)}' (code {code} / 0x{code:x})"
    return f"'{chr(code)}' (code {code})"


def _json_error(message: str, line: int, column: int) -> InvalidRequestContentError:
    return InvalidRequestContentError(
        f"{_JSON_PREFIX}{message}\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` "
        f"disabled); line: {line}, column: {column}]"
    )


def _check_json(payload: bytes) -> None:
    """Raises ``InvalidRequestContentError`` with Jackson's wording when ``payload`` is not JSON.

    The two recorded AWS answers (test_lambda_invoke_payload_encoding_error) are reproduced
    exactly; other syntax errors keep Jackson's shape with Python's description.
    """
    if not payload:
        return
    if payload.startswith(b"\xef\xbb\xbf"):  # Jackson accepts (and skips) a UTF-8 byte order mark
        payload = payload[3:]
    start = len(payload) - len(payload.lstrip(_WHITESPACE))
    line = payload.count(b"\n", 0, start) + 1
    column = start - (payload.rfind(b"\n", 0, start) + 1) + 1
    if start < len(payload) and payload[start] not in _VALUE_START:
        # The document does not start with a value. Jackson reads one byte as one character here.
        first = payload[start]
        if chr(first).isalpha():
            token = payload[start:].split(None, 1)[0].decode("utf-8", "replace")
            token = "".join(ch for ch in token if ch.isalnum() or ch in "_$") or token[:1]
            raise _json_error(f"Unrecognized token '{token}': was expecting {_VALUE_LIST}", line, column + len(token))
        raise _json_error(f"Unexpected character ({_char_desc(first)}): expected a valid value {_VALUE_LIST}", line, column)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "invalid continuation byte" and exc.end < len(payload):
            kind, bad, at = "middle", payload[exc.end], exc.end
        else:
            kind, bad, at = "start", payload[exc.start], exc.start
        line = payload.count(b"\n", 0, at) + 1
        column = at - (payload.rfind(b"\n", 0, at) + 1) + 2  # Jackson: just after the byte
        raise _json_error(f"Invalid UTF-8 {kind} byte 0x{bad:02x}", line, column) from exc
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        what = "end-of-input" if exc.pos >= len(text.rstrip()) else "character"
        raise _json_error(f"Unexpected {what}: {exc.msg}", exc.lineno, exc.colno) from exc


class InvocationsApi:
    def __init__(self, plane: ControlPlane, engine: InvokeEngine, events: EventQueue) -> None:
        self.plane = plane
        self.engine = engine
        self.events = events

    def handlers(self) -> dict[str, Handler]:
        return {"Invoke": self.invoke, "InvokeAsync": self.invoke_async}

    async def invoke(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        kind = p.get("InvocationType") or "RequestResponse"
        payload: bytes = p.get("Payload") or b""
        limit = SYNC_PAYLOAD_LIMIT if kind != "Event" else ASYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            if kind == "Event":
                raise RequestEntityTooLargeError(
                    f"{len(payload)} byte payload is too large for the Event invocation type (limit {limit} bytes)"
                )
            raise RequestEntityTooLargeError(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        _check_json(payload)
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
        result = await self.engine.invoke(ref, payload or b"{}", client_context=client_context, request_id=ctx.request_id)
        out: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": result.executed_version, "Payload": result.payload}
        if len(result.payload) > RESPONSE_LIMIT:
            out["Payload"] = json.dumps({
                "errorMessage": f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }).encode()
            out["FunctionError"] = "Unhandled"
        elif result.function_error:
            out["FunctionError"] = result.function_error
        if p.get("LogType") == "Tail":
            tail = result.log.encode()[-LOG_TAIL:]
            out["LogResult"] = base64.b64encode(tail).decode()
        return out

    async def invoke_async(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        payload: bytes = p.get("InvokeArgs") or b""
        if len(payload) > 256 * 1024:
            raise RequestEntityTooLargeError("Request must be smaller than 262144 bytes for the InvokeFunction operation")
        self.engine.resolve(ref)
        self.events.submit(ref, payload or b"{}", ctx.request_id)
        return {"Status": 202}


def event_config(plane: ControlPlane) -> Any:
    """Lookup of a function's EventInvokeConfig for the event queue."""

    def lookup(ref: Any) -> dict[str, Any]:
        record = plane.functions.get(ref.region, ref.name)
        if record is None:
            return {}
        return record.event_invoke_configs.get(ref.qualifier or LATEST) or {}

    return lookup

