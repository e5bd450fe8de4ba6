"""Streamed responses inside the engine: the runtime's parts on their way out, and the caller's handle.

Docs: configuration-response-streaming.html, runtimes-custom.html ("Implementing response
streaming in a custom runtime"). A runtime streams its answer on ``POST /response``
(``runtime_api.runtime``); ``open_sink`` gives the parts a place to go, by who invoked:

- a caller that streams (``InvokeWithResponseStream``, a ``RESPONSE_STREAM`` function URL) gave
  the invocation a ``ResponseStream``: every part goes straight on, up to the streamed limit
  (AWS: 200 MB);
- any other caller (``Invoke``, a ``BUFFERED`` URL, an event) gets the whole answer when it is
  complete, as AWS answers a buffered invoke of a streaming function; up to the synchronous
  response limit.

Past its limit the response fails with ``Function.ResponseSizeTooLarge`` (the caller has had the
bytes up to the limit); an error in the trailers fails it with the function's own error document.

``StreamedInvocation`` is the caller's side: whether the function streamed at all (a function
that does not, a Python one, answers whole: that answer is the one chunk, as AWS sends it), the
chunks, and the ``InvocationResult`` once the invocation is over.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from locallambda.errors import LambdaError, ResponseTooLarge
from locallambda.invoke.pending import Answer, Pending, error_document
from locallambda.model.spec import InvocationResult
from locallambda.model.streams import ResponseStream
from locallambda.runtime_api.http import StreamedExchange

__all__ = ["StreamedInvocation", "error_of", "open_sink"]


class _Sink:
    """Where one streamed ``POST /response`` goes (``runtime_api.runtime.ResponseSink``)."""

    __slots__ = ("_future", "_parts", "_request_id", "_size", "_stream", "limit")

    def __init__(self, pending: Pending, exchange: StreamedExchange) -> None:
        inv = pending.invocation
        self._future: asyncio.Future[Answer] = pending.future
        self._request_id = inv.request_id
        self._stream = inv.stream
        self._parts: list[bytes] = []
        self._size = 0
        if inv.stream is not None:
            self.limit = inv.stream.limit
            inv.stream.begin(exchange.headers.get("content-type"), exchange)
        else:
            self.limit = inv.response_limit if inv.response_limit is not None else 1 << 62

    def write(self, chunk: bytes) -> bool:
        if self._future.done():
            return True  # the invocation is over (timed out, failed): what comes is dropped
        if self._stream is not None:
            if self._stream.write(chunk):
                return True
        else:
            self._size += len(chunk)
            if self._size <= self.limit:
                self._parts.append(chunk)
                return True
        self._answer(ResponseTooLarge(self._request_id, self.limit).payload(), "Unhandled")
        return False

    def close(self, error_type: str | None, error_body: bytes) -> None:
        if error_type is not None:
            self._answer(error_body or error_document(error_type), "Unhandled")
        else:
            self._answer(b"".join(self._parts), None)

    def _answer(self, payload: bytes, function_error: str | None) -> None:
        if not self._future.done():
            self._future.set_result((payload, function_error))
        if self._stream is not None:
            self._stream.end()


def open_sink(pending: Pending | None, request_id: str, exchange: StreamedExchange) -> _Sink | None:
    """Where the runtime's streamed answer to ``request_id`` goes; None when that is not the
    invocation in progress (or it is over)."""
    if pending is None or pending.invocation.request_id != request_id or pending.future.done():
        return None
    return _Sink(pending, exchange)


def error_of(payload: bytes) -> tuple[str, str]:
    """(error type, message) of an error document; any runtime's shape, or none at all."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return "Unhandled", payload.decode("utf-8", "replace")
    if not isinstance(doc, dict):
        return "Unhandled", str(doc)
    return str(doc.get("errorType") or "Unhandled"), str(doc.get("errorMessage") or "")


class StreamedInvocation:
    """A synchronous invocation whose answer is taken as it comes; made by the engine."""

    def __init__(self, stream: ResponseStream, task: asyncio.Task[InvocationResult | LambdaError]) -> None:
        self._stream = stream
        self._task = task

    @property
    def streamed(self) -> bool:
        """Whether the function streams its answer (False: it answered whole)."""
        return self._stream.started.done()

    @property
    def content_type(self) -> str | None:
        """The content type the runtime named for its streamed answer."""
        return self._stream.content_type

    @property
    def executed_version(self) -> str:
        return self._stream.executed_version or "$LATEST"

    async def chunks(self) -> AsyncIterator[bytes]:
        """The answer's bytes as they arrive; a whole answer is one chunk (none for an error)."""
        if self.streamed:
            async for chunk in self._stream.chunks():
                yield chunk
            return
        result = await self.result()
        if result.function_error is None and result.payload:
            yield result.payload

    async def result(self) -> InvocationResult:
        """The invocation's outcome, once it is over (its payload: the error document when it
        failed; for a streamed answer nothing else). Raises the ``LambdaError`` that ended it
        before the function ran."""
        outcome = await asyncio.shield(self._task)
        if isinstance(outcome, LambdaError):
            raise outcome
        return outcome

    def close(self) -> None:
        """The caller takes nothing more; the function runs on."""
        self._stream.close()
