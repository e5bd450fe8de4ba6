"""The Runtime API's routes (``/2018-06-01/runtime/...``) over the environment they serve.

Docs: runtimes-api.html. The runtime long-polls ``GET invocation/next`` for its next event and
answers each one on ``POST invocation/{id}/response`` or ``POST invocation/{id}/error``; an init
that fails is reported on ``POST init/error``. What these mean for the environment's state is the
``RuntimeHost``'s business; this module only maps requests onto it and answers as AWS does
(``202 {"status":"OK"}``, or ``400 InvalidRequestID`` for a request id that is not the current
invocation's).

A response posted with ``Lambda-Runtime-Function-Response-Mode: streaming`` and a chunked body
is streamed (runtimes-custom.html, "Implementing response streaming in a custom runtime"): each
part goes to the host's ``ResponseSink`` as it arrives; an error after the first bytes comes in
the trailers ``Lambda-Runtime-Function-Error-Type`` and ``Lambda-Runtime-Function-Error-Body``
(the error document, base64-encoded). The runtime's answers are RAPID's (AWS's Runtime API,
aws-lambda-runtime-interface-emulator ``rapi/handler/invocationresponse.go``): another mode is
``400 InvalidFunctionResponseMode`` and fails the invocation with
``Runtime.InvalidResponseModeHeader``; a response over the limit is ``413
RequestEntityTooLarge`` (the caller has had the bytes up to the limit, then
``Function.ResponseSizeTooLarge``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Protocol

from locallambda.runtime_api.http import STREAMED, Exchange, Routes, StreamedExchange

__all__ = ["PREFIX", "ResponseSink", "RuntimeHost", "runtime_routes"]

PREFIX = "/2018-06-01/runtime"
_ACCEPTED = b'{"status":"OK"}'
_ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"
_ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
# The error of a streamed response whose body was cut off (RAPID's fatalerror.TruncatedResponse).
TRUNCATED = "Runtime.TruncatedResponse"


class ResponseSink(Protocol):
    """Where the parts of one streamed response go."""

    @property
    def limit(self) -> int:
        """The most bytes the response may have."""

    def write(self, chunk: bytes) -> bool:
        """Take the next part; False once the response is over ``limit`` (the rest is dropped)."""

    def close(self, error_type: str | None, error_body: bytes) -> None:
        """The response is complete; ``error_type``: the function failed, for the reason in
        ``error_body`` (empty: none given)."""


class RuntimeHost(Protocol):
    """What the Runtime API asks of the execution environment behind it."""

    def next_invocation(self, exchange: Exchange) -> None:
        """The runtime is ready for an event: answer ``exchange`` with one, now or later."""

    def invocation_result(self, request_id: str, body: bytes, error_type: str | None, failed: bool) -> bool:
        """The runtime's answer to an invocation (``failed``: it reported an error); False when
        ``request_id`` is not the invocation in progress."""

    def invocation_stream(self, request_id: str, exchange: StreamedExchange) -> ResponseSink | None:
        """The runtime streams its answer to an invocation on ``exchange``: where the parts go;
        None when ``request_id`` is not the invocation in progress."""

    def init_error(self, body: bytes, error_type: str | None) -> None:
        """The runtime's init failed, for the reason in ``body``."""


def _error_body(trailers: Mapping[str, str]) -> bytes:
    try:
        return base64.b64decode(trailers.get(_ERROR_BODY_TRAILER, ""), validate=True)
    except (binascii.Error, ValueError):
        return b""  # RAPID logs an undecodable body and goes on without it


def runtime_routes(host: RuntimeHost) -> Routes:
    def next_event(ex: Exchange, _: Mapping[str, str]) -> None:
        host.next_invocation(ex)

    def response(ex: Exchange, params: Mapping[str, str]) -> None:
        if isinstance(ex, StreamedExchange):
            _streamed(ex, params["request_id"])
        else:
            _result(ex, params["request_id"], failed=False)

    def error(ex: Exchange, params: Mapping[str, str]) -> None:
        _result(ex, params["request_id"], failed=True)

    def _result(ex: Exchange, request_id: str, *, failed: bool) -> None:
        if host.invocation_result(request_id, ex.body, ex.headers.get(_ERROR_TYPE_HEADER), failed):
            ex.respond(202, _ACCEPTED)
        else:
            ex.fail(400, "InvalidRequestID", "Invalid request ID")

    def _streamed(ex: StreamedExchange, request_id: str) -> None:
        if ex.headers[STREAMED] != "streaming":
            host.invocation_result(request_id, b"", "Runtime.InvalidResponseModeHeader", True)
            ex.fail(400, "InvalidFunctionResponseMode", "Invalid function response mode")
            return
        sink = host.invocation_stream(request_id, ex)
        if sink is None:
            ex.fail(400, "InvalidRequestID", "Invalid request ID")
            return
        over = False

        def part(chunk: bytes) -> None:
            nonlocal over
            if not over and not sink.write(chunk):
                over = True

        def end(trailers: Mapping[str, str] | None) -> None:
            if trailers is None:  # the connection is gone: nobody to answer
                sink.close(TRUNCATED, b"")
            elif over:
                ex.fail(413, "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({sink.limit} bytes).")
            else:
                error_type = trailers.get(_ERROR_TYPE_HEADER) or None
                sink.close(error_type, _error_body(trailers) if error_type else b"")
                ex.respond(202, _ACCEPTED)

        ex.stream_to(part, end)

    def init_error(ex: Exchange, _: Mapping[str, str]) -> None:
        ex.respond(202, _ACCEPTED)
        host.init_error(ex.body, ex.headers.get(_ERROR_TYPE_HEADER))

    return (
        Routes()
        .add("GET", f"{PREFIX}/invocation/next", next_event)
        .add("POST", f"{PREFIX}/invocation/{{request_id}}/response", response, streamed=True)
        .add("POST", f"{PREFIX}/invocation/{{request_id}}/error", error)
        .add("POST", f"{PREFIX}/init/error", init_error)
    )
