"""A streamed response on its way from the runtime to its caller, chunk by chunk.

Docs: configuration-response-streaming.html. A function that streams (a Node.js handler wrapped
in ``awslambda.streamifyResponse``, a custom runtime posting its response with
``Lambda-Runtime-Function-Response-Mode: streaming``) writes its answer to the Runtime API as an
HTTP/1.1 chunked body; each part is handed to the caller (a function URL in ``RESPONSE_STREAM``
mode, ``InvokeWithResponseStream``) as it arrives, never gathered first.

``ResponseStream`` is that hand-over: the environment ``begin``s it when the runtime's response
starts, ``write``s each part and ``end``s it; the caller iterates ``chunks()``. Up to
``STREAMED_RESPONSE_LIMIT`` bytes go through; the part beyond is dropped (the environment then
fails the invocation with ``Function.ResponseSizeTooLarge``). A caller that reads more slowly
than the function writes holds the runtime back: past ``high_water`` queued bytes the runtime's
connection stops being read (``Flow.pause``) until the caller has taken most of them. A caller
that goes away (``close``) stops nothing: the function runs on, as on AWS, and what it writes
is dropped.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Protocol

__all__ = ["STREAMED_RESPONSE_LIMIT", "Flow", "ResponseStream"]

# "Response streaming functions can return payloads up to 200 MB" (configuration-response-
# streaming.html; 20 MB before July 2025). MiB, as AWS's 6 MB buffered limit is 6 MiB.
STREAMED_RESPONSE_LIMIT = 200 * 1024 * 1024
HIGH_WATER = 1024 * 1024  # queued bytes past which the runtime is paused
LOW_WATER = 256 * 1024  # queued bytes under which it is resumed


class Flow(Protocol):
    """Where the streamed bytes come from, as far as holding it back goes."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class ResponseStream:
    """One invocation's streamed response; made by the caller, written by the environment."""

    __slots__ = (
        "_chunks",
        "_closed",
        "_ended",
        "_flow",
        "_high_water",
        "_paused",
        "_queued",
        "_ready",
        "content_type",
        "executed_version",
        "limit",
        "size",
        "started",
    )

    def __init__(self, limit: int = STREAMED_RESPONSE_LIMIT, *, high_water: int = HIGH_WATER) -> None:
        self.limit = limit
        self.content_type: str | None = None
        self.executed_version: str | None = None
        self.size = 0  # bytes accepted so far
        # Done when the runtime's streamed response has begun (never, for an answer given whole).
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._high_water = high_water
        self._chunks: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self._flow: Flow | None = None
        self._paused = False
        self._ended = False
        self._closed = False

    # -- the environment's side ---------------------------------------------------------------

    def begin(self, content_type: str | None, flow: Flow) -> None:
        """The runtime's response has begun, of ``content_type`` (``None``: it named none)."""
        self.content_type = content_type
        self._flow = flow
        if not self.started.done():
            self.started.set_result(None)

    def write(self, chunk: bytes) -> bool:
        """Pass ``chunk`` on. False when it takes the response over ``limit``: what is beyond
        the limit is dropped, and so is everything written after."""
        room = self.limit - self.size
        over = len(chunk) > room
        if over:
            chunk = chunk[: max(room, 0)]
        self.size += len(chunk)
        if chunk and not self._ended and not self._closed:
            self._chunks.append(chunk)
            self._queued += len(chunk)
            self._ready.set()
            if self._queued > self._high_water and not self._paused and self._flow is not None:
                self._paused = True
                self._flow.pause()
        return not over

    def end(self) -> None:
        """No more bytes come (the response is complete, or the invocation is over). Idempotent."""
        self._ended = True
        self._ready.set()
        self._resume()

    # -- the caller's side --------------------------------------------------------------------

    async def chunks(self) -> AsyncIterator[bytes]:
        """The response's bytes as they arrive, until it ends."""
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._queued -= len(chunk)
                if self._paused and self._queued < LOW_WATER:
                    self._resume()
                yield chunk
            if self._ended or self._closed:
                return
            self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        """The caller takes no more: what is queued and what comes later is dropped."""
        self._closed = True
        self._chunks.clear()
        self._queued = 0
        self._ready.set()
        self._resume()

    def _resume(self) -> None:
        if self._paused and self._flow is not None:
            self._paused = False
            self._flow.resume()
